package sdk

import (
	"context"
	"time"
)

// RecordTimeout is a good bound for Record: long enough for a store slowed
// down by a burst, short enough that writes to a dead store do not pile up.
const RecordTimeout = 5 * time.Second

// Record runs write, which records what the detector learnt from one call and
// returns what the answer needs (a count, the linked accounts), on a context
// that keeps ctx's values but neither its deadline nor its cancellation,
// bounded by timeout instead. The host may stop waiting for the answer (its
// deadline passed: a burst made the detector late); the write still runs to
// its end, so a burst never makes the detector forget what it saw, and the
// late answer is simply discarded by the host. A write that fails after the
// host stopped waiting is logged, since nobody else will see its error.
//
// Record runs write on the calling goroutine: a Detect using it returns when
// the write is done, which is also when its answer could be used at all.
// Use it for the state-changing part of Detect only: a detector that merely
// reads should stop at ctx's deadline.
func Record[T any](ctx context.Context, timeout time.Duration, write func(context.Context) (T, error)) (T, error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	v, err := write(wctx)
	if err != nil && ctx.Err() != nil {
		Logger().Error("recording a call the host no longer waited for failed; what it saw is lost", "error", err)
	}
	return v, err
}
