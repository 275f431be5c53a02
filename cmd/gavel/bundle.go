package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gavel/gavel/bundles"
)

const bundleUsage = `usage: gavel bundle <build|sign|verify|inspect> [flags]

  build   [dir]          compile a policy folder into a bundle tarball
  sign    <bundle>       sign a bundle tarball (writes .signatures.json into it)
  verify  <bundle>       verify a bundle's signature and every file's hash
  inspect <bundle|dir>   print revision, roots, files, signature key id, entry point

Bundles are OPA bundles: 'opa build', 'opa sign' and OPA's bundle plugin read
and write the same format. Run 'gavel bundle <command> --help' for flags.`

// runBundle builds, signs, verifies and inspects policy bundles with OPA's
// own compile and bundle packages.
func runBundle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, bundleUsage)
		if len(args) == 0 {
			return &exitError{code: exitUsage, err: errQuiet}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "build":
		return runBundleBuild(ctx, args, stdout, stderr)
	case "sign":
		return runBundleSign(args, stdout, stderr)
	case "verify":
		return runBundleVerify(args, stdout, stderr)
	case "inspect":
		return runBundleInspect(args, stdout, stderr)
	}
	return usageError("unknown bundle command %q (want build, sign, verify or inspect)", sub)
}

// parseFlags parses fs and returns its positional arguments, at most max.
func parseFlags(fs *pflag.FlagSet, args []string, max int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, &exitError{code: exitOK, err: errQuiet}
		}
		return nil, usageError("%v", err)
	}
	if fs.NArg() > max {
		return nil, usageError("unexpected arguments %v", fs.Args()[max:])
	}
	return fs.Args(), nil
}

// policyError maps a bundle failure to its exit code: a policy that does not
// compile or a bundle that does not load or verify exits 3.
func policyError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitPolicy, err: err}
}

func runBundleBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("bundle build", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.StringP("output", "o", "bundle.tar.gz", "bundle tarball to write")
	revision := fs.StringP("revision", "r", "", "manifest revision (default: a hash of the bundle's content)")
	roots := fs.StringSlice("root", nil, "manifest root, repeatable (default: the folder's .manifest roots)")
	entrypoint := fs.StringP("entrypoint", "e", bundles.DefaultEntrypoint, "entry point the bundle must define")
	optimize := fs.IntP("optimize", "O", 0, "OPA optimization level: 0 keeps the policy as written, 1 or 2 partially evaluate it")
	schema := fs.StringP("schema", "s", "", "input JSON schema to type-check against (default: <dir>/input.schema.json when present)")
	signingKey := fs.String("signing-key", "", "sign the bundle with this private key (PEM file) or HMAC secret")
	keyID := fs.String("key-id", "", "key id written into the signature (with --signing-key)")
	alg := fs.String("signing-alg", "RS256", "signing algorithm")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	dir := "policies"
	if len(pos) == 1 {
		dir = pos[0]
	}
	b, err := bundles.Build(ctx, bundles.BuildOptions{
		Dir:               dir,
		Revision:          *revision,
		Roots:             *roots,
		Entrypoint:        *entrypoint,
		OptimizationLevel: *optimize,
		Schema:            defaultSchema(dir, *schema),
	})
	if err != nil {
		return policyError(err)
	}
	if *signingKey != "" {
		key, err := bundles.ReadKey(*signingKey, *alg)
		if err != nil {
			return usageError("--signing-key: %v", err)
		}
		if err := bundles.Sign(b, bundles.Key{ID: *keyID, Material: key, Algorithm: *alg}); err != nil {
			return usageError("%v", err)
		}
	}
	if err := bundles.WriteBundle(*out, b); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %s from %s: revision %s, roots %s, %d modules\n",
		*out, dir, b.Manifest.Revision, rootsString(b.Manifest.Roots), len(b.Modules))
	return nil
}

func runBundleSign(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("bundle sign", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	signingKey := fs.String("signing-key", "", "private key (PEM file) or, for HS* algorithms, the HMAC secret")
	keyID := fs.String("key-id", "", "key id written into the signature (the verifier's key id)")
	alg := fs.String("signing-alg", "RS256", "signing algorithm")
	scope := fs.String("scope", "", "scope claim written into the signature")
	out := fs.StringP("output", "o", "", "signed tarball to write (default: sign the bundle in place)")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want the bundle tarball to sign")
	}
	if *signingKey == "" || *keyID == "" {
		return usageError("--signing-key and --key-id are required")
	}
	key, err := bundles.ReadKey(*signingKey, *alg)
	if err != nil {
		return usageError("--signing-key: %v", err)
	}
	path := pos[0]
	b, err := bundles.ReadBundle(path, nil)
	if err != nil {
		return policyError(err)
	}
	if err := bundles.Sign(b, bundles.Key{ID: *keyID, Material: key, Algorithm: *alg, Scope: *scope}); err != nil {
		return usageError("bundle %s: %v", path, err)
	}
	dst := path
	if *out != "" {
		dst = *out
	}
	if err := bundles.WriteBundle(dst, b); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s: revision %s, key id %s, %s\n", dst, b.Manifest.Revision, *keyID, *alg)
	return nil
}

func runBundleVerify(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("bundle verify", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	verificationKey := fs.String("verification-key", "", "public key (PEM file) or, for HS* algorithms, the HMAC secret")
	keyID := fs.String("key-id", "", "key id the signature must name")
	alg := fs.String("signing-alg", "RS256", "signing algorithm")
	scope := fs.String("scope", "", "scope the signature must carry")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want the bundle to verify")
	}
	if *verificationKey == "" || *keyID == "" {
		return usageError("--verification-key and --key-id are required")
	}
	key, err := bundles.ReadKey(*verificationKey, *alg)
	if err != nil {
		return usageError("--verification-key: %v", err)
	}
	vc, err := bundles.VerificationConfig(bundles.Key{ID: *keyID, Material: key, Algorithm: *alg, Scope: *scope})
	if err != nil {
		return usageError("%v", err)
	}
	b, err := bundles.ReadBundle(pos[0], vc)
	if err != nil {
		return policyError(err)
	}
	fmt.Fprintf(stdout, "verified %s: revision %s, key id %s, %d files\n", pos[0], b.Manifest.Revision, *keyID, len(b.Modules)+1)
	return nil
}

func runBundleInspect(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("bundle inspect", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	entrypoint := fs.StringP("entrypoint", "e", bundles.DefaultEntrypoint, "entry point to look for")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want the bundle tarball or folder to inspect")
	}
	b, err := bundles.ReadBundle(pos[0], nil)
	if err != nil {
		return policyError(err)
	}
	in, err := bundles.Inspect(pos[0], b, *entrypoint)
	if err != nil {
		return usageError("%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	sig := "none (unsigned)"
	if in.Signed {
		sig = "key id " + in.KeyID + " (not verified; use gavel bundle verify)"
	}
	ep := "defined"
	switch {
	case in.CompileError != "":
		ep = "unknown: the bundle does not compile: " + in.CompileError
	case !in.EntrypointDefined:
		ep = "MISSING"
	}
	fmt.Fprintf(stdout, "bundle:     %s\nrevision:   %s\nroots:      %s\nsignature:  %s\nentrypoint: %s %s\nfiles:\n",
		pos[0], in.Revision, strings.Join(in.Roots, ", "), sig, in.Entrypoint, ep)
	for _, f := range in.Files {
		fmt.Fprintln(stdout, "  "+f)
	}
	return nil
}

func rootsString(roots *[]string) string {
	if roots == nil {
		return "(all of data)"
	}
	return strings.Join(*roots, ", ")
}
