package sdk

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// RecordTimeout is a good bound for Record: long enough for a store slowed
// down by a burst, short enough that writes to a dead store do not pile up.
const RecordTimeout = 5 * time.Second

// Record runs write, which records what the detector learnt from one call and
// returns what the answer needs (a count, the linked accounts), on a context
// that keeps ctx's values but neither its deadline nor its cancellation,
// bounded by timeout instead. It waits for write or for ctx, whichever ends
// first. When ctx ends first (the host stopped waiting: the answer would be
// late), Record returns ctx's error at once and write carries on to its end,
// so a burst that makes answers late never makes the detector forget what
// it saw. A failure of write that nobody waits for any more is logged; a
// panic in write is returned as an error (or logged), never a crash.
//
// Use it for the state-changing part of Detect only: a detector that merely
// reads should stop at ctx's deadline.
func Record[T any](ctx context.Context, timeout time.Duration, write func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // write never blocks on a caller that left
	go func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		var r result
		func() {
			defer func() {
				if p := recover(); p != nil {
					Logger().Error("detector panicked while recording", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					r.err = fmt.Errorf("record panicked: %v", p)
				}
			}()
			r.v, r.err = write(wctx)
		}()
		done <- r
		if r.err != nil && ctx.Err() != nil {
			Logger().Error("recording a call the host no longer waited for failed; what it saw is lost", "error", r.err)
		}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
