package main

import (
	"bytes"
	"context"
	"slices"
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
		{[]string{"queue", "resolve", "--help"}, []string{"--as", "--note", "--reviewer"}, []string{"--release", "--kind", "--text"}},
		{[]string{"queue", "list", "-h"}, []string{"--kind", "--overdue", "--unassigned"}, []string{"--capability", "--release"}},
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

// TestCompletion: `gavel completion bash|zsh|fish` prints a script on
// stdout; completing offers a command's subcommands, then that
// subcommand's own flags.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"completion", shell}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "gavel") {
			t.Errorf("gavel completion %s = exit %d, %d bytes on stdout; want a script", shell, code, out.Len())
		}
	}
	complete := func(args ...string) []string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"__complete"}, args...), &out, &errb); code != exitOK {
			t.Fatalf("gavel __complete %v = exit %d: %s", args, code, errb.String())
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !strings.HasPrefix(l, ":") {
				name, _, _ := strings.Cut(l, "\t") // a description may follow a tab
				got = append(got, name)
			}
		}
		return got
	}
	if got := complete("app"); !slices.Contains(got, "appeal") {
		t.Errorf("completing gavel app = %v, want appeal", got)
	}
	if got := complete("appeal", ""); !slices.Equal(got, []string{"file", "list", "show", "resolve", "claim"}) {
		t.Errorf("completing gavel appeal = %v, want its subcommands", got)
	}
	got := complete("appeal", "resolve", "--")
	if !slices.Contains(got, "--outcome") || !slices.Contains(got, "--addr") || slices.Contains(got, "--statement") {
		t.Errorf("completing gavel appeal resolve -- = %v, want its own flags and the client's, not file's", got)
	}
	if got := complete("serve", "--data"); !slices.Equal(got, []string{"--data-dir"}) {
		t.Errorf("completing gavel serve --data = %v, want --data-dir", got)
	}
	// A file is completed by the shell: cobra's directive 0 (default)
	// rather than 4 (no file completion).
	directive := func(args ...string) string {
		var out, errb bytes.Buffer
		run(context.Background(), append([]string{"__complete"}, args...), &out, &errb)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return lines[len(lines)-1]
	}
	for _, args := range [][]string{{"detectors", "check", ""}, {"replay", "--bundle", ""}, {"bundle", "inspect", ""}} {
		if got := directive(args...); got != ":0" {
			t.Errorf("completing gavel %v: directive %s, want :0 (file names)", args, got)
		}
	}
	if got := directive("detectors", "check", "--"); got != ":4" {
		t.Errorf("completing gavel detectors check --: directive %s, want :4 (its flags)", got)
	}
}
