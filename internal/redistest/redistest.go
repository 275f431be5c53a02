// Package redistest starts a throwaway redis-server (Debian's redis-server
// package; .ci/run installs it) for a test, on a free port, and stops it when
// the test ends.
package redistest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gavel/gavel/internal/logbuf"
)

// missing is the message of a test that has no redis-server to run.
const missing = "redis-server not on PATH: apt-get install redis-server (.ci/run does)"

// Server starts a redis-server that keeps nothing on disk (no RDB, no AOF)
// in a temporary folder, stops it when tb ends, and returns its URL
// (redis://127.0.0.1:<port>/0). Without redis-server it fails tb when CI is
// set (CI installs it, so its absence is a broken CI) and skips it
// otherwise.
func Server(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal(missing)
		}
		tb.Skip(missing)
	}
	var last error
	for range 5 { // the free port may be taken before redis-server binds it
		url, err := start(tb, bin)
		if err == nil {
			return url
		}
		last = err
	}
	tb.Fatalf("start redis-server: %v", last)
	return ""
}

func start(tb testing.TB, bin string) (string, error) {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dir, err := filepath.EvalSymlinks(tb.TempDir()) // as redis-server reports it
	if err != nil {
		return "", err
	}
	out := &logbuf.Buffer{}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ready(addr, dir) {
			tb.Cleanup(stop)
			return "redis://" + addr + "/0", nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("redis-server on port %d exited: %s", port, out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server on port %d did not answer PING in 10s: %s", port, out)
		}
	}
}

// ready reports whether the Redis server at addr answers and is the one
// started in dir, not another test's that took the port first.
func ready(addr, dir string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("CONFIG GET dir\r\n")); err != nil {
		return false
	}
	var got []byte
	b := make([]byte, 512)
	for {
		n, err := c.Read(b)
		got = append(got, b[:n]...)
		if bytes.Contains(got, []byte("\r\n"+dir+"\r\n")) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
