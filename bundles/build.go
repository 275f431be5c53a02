package bundles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/util"
)

// BuildOptions says how a policy folder becomes a bundle.
type BuildOptions struct {
	// Dir is the policy folder (an OPA bundle directory with a .manifest).
	Dir string
	// Revision goes into the manifest; empty means the content hash.
	Revision string
	// Roots, when set, replace the manifest's roots.
	Roots []string
	// Entrypoint must be defined by the bundle. Default DefaultEntrypoint.
	Entrypoint string
	// OptimizationLevel is OPA's -O: 0 (default) keeps the policy as
	// written; 1 and 2 partially evaluate it for the entry point.
	OptimizationLevel int
	// Schema is the input JSON schema the policy is type-checked against;
	// empty skips the schema check.
	Schema string
}

// CompileError is a policy that does not parse, type-check or compile. Its
// message lists each problem as file:line:column.
type CompileError struct {
	Bundle string
	Errors ast.Errors
	Err    error // a failure that carries no location
}

func (e *CompileError) Error() string {
	if len(e.Errors) == 0 {
		if msg := e.Err.Error(); strings.HasPrefix(msg, "bundle "+e.Bundle) || strings.Contains(msg, "bundle "+e.Bundle+":") {
			return msg // OPA's loader named the bundle already
		}
		return fmt.Sprintf("bundle %s: %v", e.Bundle, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bundle %s: %d compile error(s):", e.Bundle, len(e.Errors))
	for _, line := range e.Lines() {
		b.WriteString("\n  " + line)
	}
	return b.String()
}

func (e *CompileError) Unwrap() error { return e.Err }

// Lines is one "file:line:column: code: message" per problem, with file
// names relative to the working directory when they are under it.
func (e *CompileError) Lines() []string {
	out := make([]string, 0, len(e.Errors))
	for _, ae := range e.Errors {
		loc := "?"
		if l := ae.Location; l != nil {
			loc = fmt.Sprintf("%s:%d:%d", displayPath(l.File), l.Row, l.Col)
		}
		out = append(out, fmt.Sprintf("%s: %s: %s", loc, ae.Code, ae.Message))
	}
	return out
}

func displayPath(p string) string {
	if p == "" {
		return "?"
	}
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// compileError turns an OPA load or compile failure into a CompileError,
// keeping the locations when OPA gives them.
func compileError(name string, err error) error {
	if ce, ok := errors.AsType[*CompileError](err); ok {
		return ce
	}
	if errs, ok := errors.AsType[ast.Errors](err); ok {
		return &CompileError{Bundle: name, Errors: errs, Err: err}
	}
	if ae, ok := errors.AsType[*ast.Error](err); ok {
		return &CompileError{Bundle: name, Errors: ast.Errors{ae}, Err: err}
	}
	if le, ok := errors.AsType[loader.Errors](err); ok {
		var errs ast.Errors
		for _, e := range le {
			if ae, ok := errors.AsType[*ast.Error](e); ok {
				errs = append(errs, ae)
			} else if aes, ok := errors.AsType[ast.Errors](e); ok {
				errs = append(errs, aes...)
			}
		}
		if len(errs) == len(le) {
			return &CompileError{Bundle: name, Errors: errs, Err: err}
		}
	}
	return &CompileError{Bundle: name, Err: err}
}

// sourceFilter leaves Rego tests (unless tests) and testdata folders out
// of a bundle.
func sourceFilter(tests bool) loader.Filter {
	return func(_ string, info fs.FileInfo, depth int) bool {
		if info.IsDir() {
			return depth > 0 && info.Name() == "testdata"
		}
		return !tests && strings.HasSuffix(info.Name(), "_test.rego")
	}
}

// LoadSource reads a policy folder as an OPA bundle: Rego files, data.json
// files and the .manifest (roots enforced), never testdata/, and the
// *_test.rego files only when tests is set.
func LoadSource(dir string, tests bool) (*bundle.Bundle, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, &CompileError{Bundle: dir, Err: err}
	} else if !fi.IsDir() {
		return nil, &CompileError{Bundle: dir, Err: errors.New("not a folder")}
	}
	b, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		WithSkipBundleVerification(true).
		WithFilter(sourceFilter(tests)).
		AsBundle(dir)
	if err != nil {
		return nil, compileError(dir, err)
	}
	return b, nil
}

// Check compiles the bundle's modules with OPA's compiler: type-checked
// against the input schema when schema is set (so input.signals["emial.x"]
// is an error when the schema closes signals), and strict (unused variables
// and imports, deprecated built-ins) when strict is set.
func Check(name string, b *bundle.Bundle, schema string, strict bool) (*ast.Compiler, error) {
	ss, err := loader.Schemas(schema)
	if err != nil {
		return nil, &CompileError{Bundle: name, Err: fmt.Errorf("input schema %s: %w", schema, err)}
	}
	c := checker(ss, strict)
	if len(b.Data) > 0 {
		c = c.WithPathConflictsCheck(dataFinder(b.Data))
	}
	if c.Compile(b.ParsedModules(name)); c.Failed() {
		return nil, &CompileError{Bundle: name, Errors: c.Errors, Err: c.Errors}
	}
	return c, nil
}

// checker is the compiler that Check and bundle activation type-check
// with: every error reported, against ss (when not nil) and the schema
// annotations of the modules.
func checker(ss *ast.SchemaSet, strict bool) *ast.Compiler {
	return ast.NewCompiler().
		SetErrorLimit(0).
		WithCapabilities(ast.CapabilitiesForThisVersion()).
		WithSchemas(ss).
		WithUseTypeCheckAnnotations(true).
		WithEnablePrintStatements(true).
		WithStrict(strict)
}

// inputSchema is a JSON (or YAML) input schema as OPA's type checker takes
// it; nil for no schema.
func inputSchema(raw []byte) (*ast.SchemaSet, error) {
	if raw == nil {
		return nil, nil
	}
	var schema any
	if err := util.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	if _, ok := schema.(map[string]any); !ok {
		return nil, fmt.Errorf("input schema: want a JSON object, got %T", schema)
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.SchemaRootRef, schema)
	return ss, nil
}

// dataFinder reports whether the bundle's data holds a value at path, so a
// rule and a data document cannot claim the same path.
func dataFinder(data map[string]any) func([]string) (bool, error) {
	return func(path []string) (bool, error) {
		if len(path) == 0 {
			return false, nil
		}
		node := data
		for _, key := range path {
			v, ok := node[key]
			if !ok {
				return false, nil
			}
			sub, ok := v.(map[string]any)
			if !ok {
				return true, nil
			}
			node = sub
		}
		return true, nil
	}
}

// Build loads the policy folder without its tests, type-checks it against
// the input schema, and compiles it with OPA's compile package into a bundle
// whose manifest carries the revision (or the content hash) and the roots.
// The entry point must be defined.
func Build(ctx context.Context, o BuildOptions) (*bundle.Bundle, error) {
	if o.Entrypoint == "" {
		o.Entrypoint = DefaultEntrypoint
	}
	ep, err := parseEntrypoint(o.Entrypoint)
	if err != nil {
		return nil, err
	}
	if o.OptimizationLevel < 0 || o.OptimizationLevel > 2 {
		return nil, fmt.Errorf("optimization level %d: want 0, 1 or 2", o.OptimizationLevel)
	}
	b, err := LoadSource(o.Dir, false)
	if err != nil {
		return nil, err
	}
	if len(o.Roots) > 0 {
		roots := slices.Clone(o.Roots)
		b.Manifest.Roots = &roots
	}
	if err := checkRoots(o.Dir, b); err != nil {
		return nil, err
	}
	compiler, err := Check(o.Dir, b, o.Schema, false)
	if err != nil {
		return nil, err
	}
	if len(compiler.GetRules(ep)) == 0 {
		return nil, &CompileError{Bundle: o.Dir, Err: fmt.Errorf("entry point %s is not defined", o.Entrypoint)}
	}
	relativePaths(o.Dir, b)
	rev := o.Revision
	if rev == "" {
		if rev, err = contentHash(b); err != nil {
			return nil, fmt.Errorf("bundle %s: content hash: %w", o.Dir, err)
		}
	}
	c := compile.New().
		WithRegoVersion(ast.RegoV1).
		WithAsBundle(true).
		WithBundle(b).
		WithRevision(rev).
		WithOptimizationLevel(o.OptimizationLevel).
		WithEntrypoints(dataPath(ep))
	if err := c.Build(ctx); err != nil {
		return nil, compileError(o.Dir, err)
	}
	return c.Bundle(), nil
}

// relativePaths names the modules by their path inside the policy folder,
// so the tarball's layout and the content hash do not depend on where the
// folder is.
func relativePaths(dir string, b *bundle.Bundle) {
	prefix := "/" + strings.Trim(filepath.ToSlash(filepath.Clean(dir)), "/") + "/"
	for i := range b.Modules {
		for _, p := range []*string{&b.Modules[i].URL, &b.Modules[i].Path} {
			if q := "/" + strings.TrimPrefix(*p, "/"); strings.HasPrefix(q, prefix) {
				*p = "/" + strings.TrimPrefix(q, prefix)
			}
		}
	}
}

// checkRoots refuses overlapping roots and modules or data outside them,
// as OPA does when it activates the bundle.
func checkRoots(name string, b *bundle.Bundle) error {
	if b.Manifest.Roots == nil {
		return nil
	}
	roots := *b.Manifest.Roots
	for i := range roots {
		for j := i + 1; j < len(roots); j++ {
			if bundle.RootPathsOverlap(roots[i], roots[j]) {
				return &CompileError{Bundle: name, Err: fmt.Errorf("manifest roots %q and %q overlap", roots[i], roots[j])}
			}
		}
	}
	for _, m := range b.Modules {
		path := strings.Join(packageSegments(m.Parsed.Package.Path), "/")
		if !bundle.RootPathsContain(roots, path) {
			return &CompileError{Bundle: name, Err: fmt.Errorf("module %s: package %s is outside the manifest roots %v", displayPath(m.Path), m.Parsed.Package.Path, roots)}
		}
	}
	for key := range b.Data {
		if !bundle.RootPathsContain(roots, key) && !slices.ContainsFunc(roots, func(r string) bool { return strings.HasPrefix(r, key+"/") }) {
			return &CompileError{Bundle: name, Err: fmt.Errorf("data.%s is outside the manifest roots %v", key, roots)}
		}
	}
	return nil
}

func packageSegments(ref ast.Ref) []string {
	out := make([]string, 0, len(ref))
	for _, t := range ref[1:] {
		if s, ok := t.Value.(ast.String); ok {
			out = append(out, string(s))
		}
	}
	return out
}

// dataPath turns data.a.b into a/b, the entry point form of OPA's compiler.
func dataPath(ref ast.Ref) string {
	return strings.Join(packageSegments(ref), "/")
}

// contentHash is the first 16 hex digits of a SHA-256 over the modules
// (path and text), the data and the roots, so the same policy always gets
// the same revision.
func contentHash(b *bundle.Bundle) (string, error) {
	h := sha256.New()
	mods := slices.Clone(b.Modules)
	slices.SortFunc(mods, func(x, y bundle.ModuleFile) int { return strings.Compare(x.URL, y.URL) })
	for _, m := range mods {
		rel := m.URL
		fmt.Fprintf(h, "module %s %d\n", rel, len(m.Raw))
		h.Write(m.Raw)
	}
	data, err := json.Marshal(b.Data) // map keys sorted
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "data %d\n", len(data))
	h.Write(data)
	if b.Manifest.Roots != nil {
		fmt.Fprintf(h, "roots %s\n", strings.Join(*b.Manifest.Roots, ","))
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
