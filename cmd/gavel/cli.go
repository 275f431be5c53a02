package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// rootCommand is gavel's command tree on cobra: one command per entry of
// commands() — adding a command there is all it takes — with `gavel
// completion bash|zsh|fish|powershell`, help on stdout with exit 0, and
// completion of each command's subcommands and flags. Each command parses
// its own flags (and prints its own help), so cobra passes its arguments
// through untouched; completion learns a command's flags from that help.
func rootCommand(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "gavel",
		Short:         "gavel is the enforcement decision point",
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(*cobra.Command, []string) error {
			usage(stderr)
			return &exitError{code: exitUsage, err: errQuiet}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetHelpFunc(func(*cobra.Command, []string) { usage(stdout) })
	for _, c := range commands() {
		root.AddCommand(&cobra.Command{
			Use:                c.name,
			Short:              c.summary,
			DisableFlagParsing: true, // the command parses its own
			SilenceErrors:      true,
			SilenceUsage:       true,
			RunE: func(_ *cobra.Command, args []string) error {
				errw := stderr
				if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
					errw = stdout // help that is asked for goes to stdout
				}
				err := c.run(ctx, args, stdout, errw)
				if err != nil {
					return commandError{c.name, err}
				}
				return nil
			},
			ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if wantsFile(c.name, args, toComplete) {
					return nil, cobra.ShellCompDirectiveDefault // the shell completes file names
				}
				return complete(ctx, c, args, toComplete), cobra.ShellCompDirectiveNoFileComp
			},
		})
	}
	return root
}

// commandError is a command's failure, named for the message.
type commandError struct {
	name string
	err  error
}

func (e commandError) Error() string { return e.err.Error() }
func (e commandError) Unwrap() error { return e.err }

var (
	flagPattern = regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z0-9][a-z0-9-]*)`)
	subPattern  = regexp.MustCompile(`(?m)^\s*gavel [a-z]+ ([a-z][a-z-]*)\b`)
)

// fileFlags take a file or folder; fileArgs are the subcommands whose
// arguments are files (gavel detectors check <binary>, gavel bundle build
// <dir>, ...).
var (
	fileFlags = map[string]bool{"--bundle": true, "--html": true, "--config": true, "--ca": true, "--cert": true,
		"--key": true, "--out": true, "-o": true, "--output": true, "--data-dir": true, "--signing-key": true, "-f": true, "--file": true}
	fileArgs = map[string]bool{"detectors check": true, "bundle build": true, "bundle sign": true, "bundle verify": true,
		"bundle inspect": true, "policy test": true, "policy check": true}
)

// wantsFile reports whether the word being completed is a file name: the
// value of a flag that takes one, or an argument of a subcommand that does.
func wantsFile(name string, args []string, toComplete string) bool {
	if strings.HasPrefix(toComplete, "-") {
		return false
	}
	if len(args) > 0 && fileFlags[args[len(args)-1]] {
		return true
	}
	return len(args) > 0 && fileArgs[name+" "+args[0]]
}

// complete offers a command's subcommands (before any is given) or its
// flags, read from the help it prints for args + --help.
func complete(ctx context.Context, c command, args []string, toComplete string) []cobra.Completion {
	var help bytes.Buffer
	_ = c.run(ctx, append(slices.Clone(args), "--help"), &help, &help)
	var out []cobra.Completion
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] && strings.HasPrefix(s, toComplete) {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(args) == 0 && !strings.HasPrefix(toComplete, "-") {
		for _, m := range subPattern.FindAllStringSubmatch(help.String(), -1) {
			add(m[1])
		}
		if len(out) > 0 {
			return out
		}
	}
	for _, m := range flagPattern.FindAllStringSubmatch(help.String(), -1) {
		add(m[1])
	}
	return out
}

// execute runs the command line and returns the exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := rootCommand(ctx, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	name := "gavel"
	var ce commandError
	if errors.As(err, &ce) {
		name = "gavel " + ce.name
		err = ce.err
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !errors.Is(ee.err, errQuiet) {
			fmt.Fprintln(stderr, name+":", ee.err)
		}
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "gavel: %v\n\n", err)
		usage(stderr)
		return exitUsage
	}
	fmt.Fprintln(stderr, name+":", err)
	return exitFailure
}
