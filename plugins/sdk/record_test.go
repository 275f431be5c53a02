package sdk

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestRecordOutlivesTheCaller(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "v"), 20*time.Millisecond)
	defer cancel()
	got, err := Record(ctx, time.Minute, func(wctx context.Context) (int, error) {
		<-ctx.Done() // the store is slow: the caller's deadline passes meanwhile
		if wctx.Value(ctxKey{}) != "v" {
			return 0, errors.New("the write's context lost the caller's values")
		}
		return 1, wctx.Err() // still live after the caller's deadline
	})
	if got != 1 || err != nil {
		t.Errorf("Record(caller's deadline passes during the write) = %d, %v, want the write to run to its end: 1, nil", got, err)
	}
}

func TestRecordReturnsWhatTheWriteReturns(t *testing.T) {
	got, err := Record(context.Background(), time.Second, func(context.Context) (string, error) { return "7", nil })
	if got != "7" || err != nil {
		t.Errorf("Record(write returns 7) = %q, %v, want 7, nil", got, err)
	}
	boom := errors.New("boom")
	if _, err := Record(context.Background(), time.Second, func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("Record(write fails) = %v, want %v", err, boom)
	}
}

func TestRecordBoundsTheWrite(t *testing.T) {
	var deadline time.Time
	_, err := Record(context.Background(), 50*time.Millisecond, func(wctx context.Context) (int, error) {
		deadline, _ = wctx.Deadline()
		<-wctx.Done()
		return 0, wctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) || deadline.IsZero() {
		t.Errorf("Record(hung write, timeout 50ms) = %v (write deadline %v), want the write's own deadline exceeded", err, deadline)
	}
}
