package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpGoesToStdout: help that is asked for goes to stdout with exit 0;
// each appeal subcommand lists its own flags, not its siblings'.
func TestHelpGoesToStdout(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		want, never []string
	}{
		{[]string{"--help"}, []string{"usage: gavel <command>", "serve"}, nil},
		{[]string{"help"}, []string{"usage: gavel <command>"}, nil},
		{[]string{"appeal", "file", "--help"}, []string{"--statement", "--addr"}, []string{"--outcome", "--status", "--release"}},
		{[]string{"appeal", "resolve", "-h"}, []string{"--outcome", "--reviewer"}, []string{"--statement", "--status"}},
		{[]string{"decide", "--help"}, []string{"--checkpoint"}, nil},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != exitOK {
			t.Errorf("gavel %v exit = %d, want 0 (stderr %q)", tc.args, code, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("gavel %v stdout = %q, want %q in it", tc.args, out.String(), w)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(out.String(), n) {
				t.Errorf("gavel %v help lists %s, a sibling's flag", tc.args, n)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"appeal", "file", "d-1", "--outcome", "upheld"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "does not take --outcome") {
		t.Errorf("gavel appeal file --outcome = exit %d, stderr %q; want a usage error naming --outcome", code, errb.String())
	}
	if code := run(context.Background(), nil, &out, &errb); code != exitUsage {
		t.Errorf("gavel (no command) exit = %d, want %d", code, exitUsage)
	}
}
