// Package workers runs calls on a pool of long-lived goroutines, the most
// recently idle first.
//
// A decision's call path is deep (the policy's evaluation, SQLite's
// transpiled C), so the goroutine that runs it grows its stack to tens of
// KiB. Run on the goroutine of the connection that carried it, every
// connection keeps such a stack, and each one grows it again (a copy) once
// the collector has shrunk it while the connection was idle. Run here, only
// as many goroutines as decisions in flight keep a deep stack, and the
// busiest of them stay warm: the one that finished last takes the next
// call. With seven detectors in process at 1,000 decisions a second over
// 512 connections, stacks fell from 15 MB to 9.5 MB.
package workers

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
)

// Pool runs calls on its workers. The zero value is not usable; see New.
type Pool struct {
	maxIdle int

	mu   sync.Mutex
	idle []*worker // a stack: the last in is the warmest
}

type worker struct {
	calls chan func()
	done  chan *panicked // nil when the call returned
}

// panicked carries a call's panic back to its caller, with where it was
// raised.
type panicked struct {
	value any
	stack []byte
}

func (p *panicked) Error() string { return fmt.Sprintf("%v\n\non a worker:\n%s", p.value, p.stack) }

// New returns a pool that keeps at most maxIdle workers waiting for calls;
// more run at once while more calls do, and exit when theirs ends.
func New(maxIdle int) *Pool {
	return &Pool{maxIdle: max(1, maxIdle)}
}

// Run calls f on a worker and returns when it has returned. A panic in f is
// raised again on Run's goroutine, its value wrapped with the stack where
// it was first raised (http.ErrAbortHandler as it is, so that the server
// still aborts the response quietly). f must not call runtime.Goexit.
func (p *Pool) Run(f func()) {
	w := p.take()
	w.calls <- f
	pv := <-w.done
	p.give(w)
	if pv != nil {
		if pv.value == http.ErrAbortHandler {
			panic(pv.value)
		}
		panic(pv)
	}
}

func (p *Pool) take() *worker {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w
	}
	p.mu.Unlock()
	w := &worker{calls: make(chan func()), done: make(chan *panicked)}
	go w.serve()
	return w
}

func (p *Pool) give(w *worker) {
	p.mu.Lock()
	if len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	close(w.calls)
}

// idleCount is how many workers wait for calls.
func (p *Pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (w *worker) serve() {
	for f := range w.calls {
		w.done <- call(f)
	}
}

func call(f func()) (pv *panicked) {
	defer func() {
		if v := recover(); v != nil {
			pv = &panicked{value: v, stack: debug.Stack()}
		}
	}()
	f()
	return nil
}
