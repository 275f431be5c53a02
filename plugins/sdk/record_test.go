package sdk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type ctxKey struct{}

func TestRecordOutlivesTheCaller(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "v"), 20*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	wrote := make(chan error, 1)
	_, err := Record(ctx, time.Minute, func(wctx context.Context) (int, error) {
		<-release // the store is slow: the caller's deadline passes meanwhile
		<-ctx.Done()
		if wctx.Value(ctxKey{}) != "v" {
			wrote <- errors.New("the write's context lost the caller's values")
			return 0, nil
		}
		wrote <- wctx.Err() // still live after the caller's deadline
		return 1, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Record(caller's deadline passes during the write) = %v, want %v", err, context.DeadlineExceeded)
	}
	close(release)
	select {
	case err := <-wrote:
		if err != nil {
			t.Errorf("the write after the caller left: %v, want it to run to its end on a live context", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write never ran to its end")
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
	if _, err := Record(context.Background(), time.Second, func(context.Context) (int, error) { panic("bad store") }); err == nil ||
		!strings.Contains(err.Error(), "bad store") {
		t.Errorf("Record(write panics) = %v, want an error naming the panic", err)
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
