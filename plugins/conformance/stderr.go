package conformance

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// stderrTail keeps what the detector wrote on stderr, so that a failure
// can say what the detector itself said (a start that fails shows only
// go-plugin's "Unrecognized remote plugin message" otherwise).
type stderrTail struct {
	mu    sync.Mutex
	lines []string
}

const keepLines = 200

func (t *stderrTail) add(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > keepLines {
		t.lines = t.lines[len(t.lines)-keepLines:]
	}
}

// mark is a position to read from later.
func (t *stderrTail) mark() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lines)
}

// since returns the last n lines written after mark, as one clause ("" if
// none).
func (t *stderrTail) since(mark, n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if mark > len(t.lines) {
		mark = 0
	}
	lines := t.lines[mark:]
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return ""
	}
	return "; the detector's stderr: " + strings.Join(lines, " | ")
}

// tailHandler passes records on to next and keeps, in tail, those that
// gavel's host re-emits from the detector's stderr (go-plugin logs them
// under logger=<binary's base name>).
type tailHandler struct {
	next   slog.Handler
	binary string
	mine   bool
	tail   *stderrTail
}

func (h *tailHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *tailHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.mine {
		h.tail.add(r.Message)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *tailHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	for _, a := range attrs {
		if a.Key == "logger" && (a.Value.String() == h.binary || strings.HasSuffix(a.Value.String(), "."+h.binary)) {
			c.mine = true
		}
	}
	return &c
}

func (h *tailHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
