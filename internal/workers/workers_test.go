package workers

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// goid is the id of the calling goroutine, from its stack's header.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	id, err := strconv.Atoi(string(f[1]))
	if err != nil {
		panic(err)
	}
	return id
}

func TestRunReusesTheWarmestWorker(t *testing.T) {
	p := New(8)
	caller := goid()
	var ran []int
	for range 5 {
		p.Run(func() { ran = append(ran, goid()) })
	}
	if len(ran) != 5 {
		t.Fatalf("ran %d calls, want 5", len(ran))
	}
	for _, id := range ran {
		if id == caller {
			t.Fatal("a call ran on its caller's goroutine")
		}
		if id != ran[0] {
			t.Fatalf("sequential calls ran on goroutines %v, want one worker for all", ran)
		}
	}
	if n := p.idleCount(); n != 1 {
		t.Errorf("%d idle workers after sequential calls, want 1", n)
	}

	// Three calls at once take three workers; the one that ends last is
	// the next call's.
	release := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	ids := make([]int, 3)
	var started, done sync.WaitGroup
	for i := range release {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			p.Run(func() { ids[i] = goid(); started.Done(); <-release[i] })
		}()
	}
	started.Wait()
	if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Fatalf("calls at once ran on goroutines %v, want three", ids)
	}
	close(release[0])
	close(release[2])
	waitIdle(t, p, 2)
	close(release[1])
	done.Wait()
	if n := p.idleCount(); n != 3 {
		t.Errorf("%d idle workers, want 3", n)
	}
	var next int
	p.Run(func() { next = goid() })
	if next != ids[1] {
		t.Errorf("next call ran on goroutine %d, want %d (the last to finish)", next, ids[1])
	}
}

func waitIdle(t *testing.T, p *Pool, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); p.idleCount() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, want %d", p.idleCount(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIdleWorkersBounded(t *testing.T) {
	before := runtime.NumGoroutine()
	p := New(2)
	var started, done sync.WaitGroup
	release := make(chan struct{})
	for range 6 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			p.Run(func() { started.Done(); <-release })
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
	if n := p.idleCount(); n != 2 {
		t.Errorf("%d idle workers, want 2", n)
	}
	// The four beyond the bound exit.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before+2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want at most %d", runtime.NumGoroutine(), before+2)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPanicRaisedOnCaller(t *testing.T) {
	p := New(4)
	got := func(f func()) (v any) {
		defer func() { v = recover() }()
		p.Run(f)
		return nil
	}
	v := got(func() { panic("detector exploded") })
	pe, ok := v.(error)
	if !ok {
		t.Fatalf("recovered %T %v, want an error", v, v)
	}
	if msg := pe.Error(); !strings.Contains(msg, "detector exploded") || !strings.Contains(msg, "workers_test.go") {
		t.Errorf("panic %q lacks the value or the stack where it was raised", msg)
	}
	if v := got(func() { panic(http.ErrAbortHandler) }); v != http.ErrAbortHandler {
		t.Errorf("recovered %v, want http.ErrAbortHandler as it was", v)
	}
	// The workers live on.
	ran := false
	p.Run(func() { ran = true })
	if !ran {
		t.Error("call after a panic did not run")
	}
	if n := p.idleCount(); n != 1 {
		t.Errorf("%d idle workers, want 1", n)
	}
}
