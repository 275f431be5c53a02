package emailrisk

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// shipped returns the lists the email command embeds, parsed once.
var shipped = sync.OnceValues(func() (*Lists, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join("..", "data", name))
		return string(b), err
	}
	d, err := read("disposable.txt")
	if err != nil {
		return nil, err
	}
	w, err := read("disposable_wildcard.txt")
	if err != nil {
		return nil, err
	}
	f, err := read("free.txt")
	if err != nil {
		return nil, err
	}
	return ParseLists(d, w, f), nil
})

func lists(t testing.TB) *Lists {
	t.Helper()
	l, err := shipped()
	if err != nil {
		t.Fatalf("read the shipped lists: %v", err)
	}
	return l
}

func TestParseListsSortsAndDedupes(t *testing.T) {
	t.Parallel()
	l := ParseLists("b.com\na.com\n\nb.com\n", "", "x.org")
	if len(l.Disposable) != 2 || !l.Disposable.has("a.com") || !l.Disposable.has("b.com") || l.Disposable.has("c.com") {
		t.Errorf("ParseLists(unsorted) = %v, want [a.com b.com]", l.Disposable)
	}
	if !l.Free.has("x.org") || l.DisposableWildcard.has("") {
		t.Errorf("ParseLists: Free = %v, DisposableWildcard = %v", l.Free, l.DisposableWildcard)
	}
}
