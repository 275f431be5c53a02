package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/internal/bundletest"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
)

// repoRoot is the module root, where policies/ and tools/go.mod are.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	opaOnce sync.Once
	opaPath string
	opaErr  error
)

// opaCLI is the opa CLI pinned in tools/go.mod: bin/opa when `make tools`
// built it, otherwise built once into a temporary folder.
func opaCLI(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the opa CLI (run without -short)")
	}
	opaOnce.Do(func() {
		root := repoRoot(t)
		if p := filepath.Join(root, "bin", "opa"); fileExists(p) {
			opaPath = p
			return
		}
		opaPath = filepath.Join(binDir, "opa")
		cmd := exec.Command("go", "build", "-modfile=tools/go.mod", "-o", opaPath, "github.com/open-policy-agent/opa")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			opaErr = fmt.Errorf("build opa: %v\n%s", err, out)
		}
	})
	if opaErr != nil {
		t.Fatal(opaErr)
	}
	return opaPath
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// result is a finished command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCmd runs a binary in the repository root and returns its exit code
// and output.
func runCmd(t testing.TB, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot(t)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return r
}

func gavelCLI(t testing.TB, args ...string) result {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs gavel (run without -short)")
	}
	return runCmd(t, filepath.Join(binDir, "gavel"), args...)
}

// keyPair writes an RSA private and public key as PEM files.
func keyPair(t testing.TB, name string) (private, public string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	private, public = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
	writePEM(t, private, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	writePEM(t, public, "PUBLIC KEY", pub)
	return private, public
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyPolicies copies the repository's policies to a folder the test may
// change.
func copyPolicies(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policies")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(repoRoot(t), "policies"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeText(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildSigned builds the repository's policies with gavel at revision rev
// and signs them with key under keyID; it returns the tarball's path.
func buildSigned(t testing.TB, dir, rev, key, keyID string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), rev+".tar.gz")
	if r := gavelCLI(t, "bundle", "build", dir, "-r", rev, "-o", out); r.code != 0 {
		t.Fatalf("gavel bundle build: %v", r)
	}
	if r := gavelCLI(t, "bundle", "sign", "--signing-key", key, "--key-id", keyID, out); r.code != 0 {
		t.Fatalf("gavel bundle sign: %v", r)
	}
	return out
}

// tamper rewrites one file of a bundle tarball, keeping its signature.
func tamper(t testing.TB, tarball, file, appended string) []byte {
	t.Helper()
	raw, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") == file {
			body = append(body, appended...)
			found = true
		}
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if !found {
		t.Fatalf("tamper: %s has no %s", tarball, file)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func writeBytes(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func signingEnv(keyID, pub string) []string {
	return []string{"GAVEL_POLICY__SIGNING__KEY_ID=" + keyID, "GAVEL_POLICY__SIGNING__PUBLIC_KEY_FILE=" + pub}
}

// TestPolicyCommands runs `gavel policy test|check` on the repository's
// policies and on broken copies.
func TestPolicyCommands(t *testing.T) {
	t.Parallel()
	if r := gavelCLI(t, "policy", "test", "policies"); r.code != 0 || !strings.Contains(r.stdout, "0 failed") || !strings.Contains(r.stdout, "coverage:") {
		t.Errorf("gavel policy test policies: %v, want exit 0 with results and coverage", r)
	}
	if r := gavelCLI(t, "policy", "check", "policies", "--schema", "policies/input.schema.json"); r.code != 0 {
		t.Errorf("gavel policy check policies: %v, want exit 0", r)
	}

	unsafe := copyPolicies(t)
	writeText(t, filepath.Join(unsafe, "gavel/enforcement/broken.rego"), "package gavel.enforcement\n\nbroken := x if x > 1\n")
	typo := copyPolicies(t)
	identity := filepath.Join(typo, "gavel/enforcement/identity.rego")
	src, err := os.ReadFile(identity)
	if err != nil {
		t.Fatal(err)
	}
	writeText(t, identity, strings.Replace(string(src), "input.subject.profile.country", "input.subject.profile.countyr", 1))
	failing := copyPolicies(t)
	writeText(t, filepath.Join(failing, "gavel/enforcement/extra_test.rego"),
		"package gavel.enforcement_test\n\ntest_fails if {\n\t1 == 2\n}\n")
	uncovered := copyPolicies(t)
	writeText(t, filepath.Join(uncovered, "gavel/enforcement/uncovered.rego"), "package gavel.enforcement\n\n"+
		strings.Repeat("never_called(x) := y if {\n\ty := x + 1\n\ty > 2\n\ty < 100\n}\n\n", 1)+
		"other_unused := v if {\n\tsome v in [1, 2, 3]\n\tv > 5\n}\n")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"test: does not compile", []string{"policy", "test", unsafe}, 3, []string{"broken.rego:3", "var x is unsafe"}},
		{"check: does not compile", []string{"policy", "check", unsafe}, 3, []string{"broken.rego:3", "var x is unsafe"}},
		{"check: schema typo", []string{"policy", "check", typo}, 3, []string{"identity.rego:", "undefined ref: input.subject.profile.countyr"}},
		{"test: a failing test", []string{"policy", "test", failing}, 4, []string{"FAIL", "test_fails", "1 failed"}},
		{"test: coverage below threshold", []string{"policy", "test", uncovered, "--threshold", "100"}, 4, []string{"below the threshold"}},
		{"test: --run selects", []string{"policy", "test", failing, "--run", "test_fails", "--threshold", "0"}, 4, []string{"0 passed, 1 failed of 1 tests"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gavelCLI(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("gavel %v: %v\nwant exit %d", tc.args, r, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("gavel %v output lacks %q:\n%v", tc.args, w, r)
				}
			}
		})
	}
}

// TestBundlesInteroperateWithOPA checks both directions: the opa CLI's
// signed bundle verifies and serves in gavel, and gavel's signed bundle
// verifies with the opa CLI.
func TestBundlesInteroperateWithOPA(t *testing.T) {
	t.Parallel()
	opa := opaCLI(t)
	key, pub := keyPair(t, "release")
	_, otherPub := keyPair(t, "other")

	// opa build + sign → gavel verify, inspect, serve.
	opaBundle := filepath.Join(t.TempDir(), "opa.tar.gz")
	if r := runCmd(t, opa, "build", "--bundle", "policies", "--ignore", "*_test.rego", "--ignore", "testdata",
		"--revision", "opa-built-1", "--signing-key", key, "--verification-key-id", "release", "-o", opaBundle); r.code != 0 {
		t.Fatalf("opa build: %v", r)
	}
	if r := gavelCLI(t, "bundle", "verify", "--verification-key", pub, "--key-id", "release", opaBundle); r.code != 0 {
		t.Errorf("gavel bundle verify (opa's bundle): %v", r)
	}
	r := gavelCLI(t, "bundle", "inspect", opaBundle)
	for _, w := range []string{"revision:   opa-built-1", "roots:      gavel, system", "key id release", "data.gavel.enforcement.decision defined"} {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("gavel bundle inspect: %v\nwant %q", r, w)
		}
	}
	g := startGavel(t, append(signingEnv("release", pub), "GAVEL_POLICY__SOURCE=file://"+opaBundle)...)
	resp, err := g.decisions().Decide(ctxT(t), connect.NewRequest(signup("amelia@mailinator.com")))
	if err != nil {
		t.Fatalf("Decide on opa's signed bundle: %v", err)
	}
	if got := resp.Msg.GetBundleRevision(); got != "opa-built-1" {
		t.Errorf("Decide().bundle_revision = %q, want opa-built-1", got)
	}

	// gavel build + sign → opa verifies (opa build verifies a signed bundle).
	gavelBundle := buildSigned(t, "policies", "gavel-built-1", key, "release")
	out := filepath.Join(t.TempDir(), "reverified.tar.gz")
	if r := runCmd(t, opa, "build", "--bundle", gavelBundle, "--verification-key", pub, "--verification-key-id", "release", "-o", out); r.code != 0 {
		t.Errorf("opa build --verification-key on gavel's bundle: %v", r)
	}
	if r := runCmd(t, opa, "build", "--bundle", gavelBundle, "--verification-key", otherPub, "--verification-key-id", "release", "-o", out); r.code == 0 {
		t.Errorf("opa build --verification-key with another key accepted gavel's bundle: %v", r)
	}
	if r := runCmd(t, opa, "inspect", gavelBundle); r.code != 0 || !strings.Contains(r.stdout, "gavel-built-1") {
		t.Errorf("opa inspect gavel's bundle: %v", r)
	}
}

// TestBundleBadInput: each bad bundle gets a clear message naming the bundle
// and the cause, from the CLI (exit 3) and from gavel serve (exit 3).
func TestBundleBadInput(t *testing.T) {
	t.Parallel()
	key, pub := keyPair(t, "release")
	good := buildSigned(t, "policies", "good-1", key, "release")

	notBundle := writeBytes(t, []byte("this is not a bundle\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("gzip, but not a tarball"))
	zw.Close()
	notTar := writeBytes(t, gz.Bytes())

	overlap := copyPolicies(t)
	writeText(t, filepath.Join(overlap, ".manifest"), `{"revision": "overlap", "roots": ["gavel", "gavel/enforcement", "system"]}`)
	overlapTar := tarFolder(t, overlap)

	otherKey, _ := keyPair(t, "other")
	unknownKey := buildSigned(t, "policies", "unknown-key-1", otherKey, "someone-else")

	unsafe := copyPolicies(t)
	writeText(t, filepath.Join(unsafe, "gavel/enforcement/broken.rego"), "package gavel.enforcement\n\nbroken := x if x > 1\n")
	tampered := writeBytes(t, tamper(t, good, "gavel/enforcement/model.rego", "\n# changed after signing\n"))

	t.Run("cli", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			args []string
			want []string
		}{
			{"not a bundle", []string{"bundle", "inspect", notBundle}, []string{notBundle, "not a bundle"}},
			{"gzip but not a tarball", []string{"bundle", "verify", "--verification-key", pub, "--key-id", "release", notTar}, []string{notTar}},
			{"overlapping roots", []string{"bundle", "build", overlap, "-o", filepath.Join(t.TempDir(), "x.tar.gz")}, []string{overlap, "overlapped roots", "'gavel' and 'gavel/enforcement'"}},
			{"unknown key id", []string{"bundle", "verify", "--verification-key", pub, "--key-id", "release", unknownKey}, []string{unknownKey, "unknown key id", "someone-else"}},
			{"tampered file", []string{"bundle", "verify", "--verification-key", pub, "--key-id", "release", tampered}, []string{tampered, "changed after signing", "gavel/enforcement/model.rego"}},
			{"unsigned", []string{"bundle", "verify", "--verification-key", pub, "--key-id", "release", notSigned(t)}, []string{"unsigned"}},
			{"does not compile", []string{"bundle", "build", unsafe, "-o", filepath.Join(t.TempDir(), "x.tar.gz")}, []string{unsafe, "broken.rego:3", "var x is unsafe"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := gavelCLI(t, tc.args...)
				t.Logf("exit %d: %s", r.code, strings.TrimSpace(r.stderr))
				if r.code != 3 {
					t.Fatalf("gavel %v: %v\nwant exit 3", tc.args, r)
				}
				for _, w := range tc.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("gavel %v: stderr lacks %q:\n%s", tc.args, w, r.stderr)
					}
				}
			})
		}
	})

	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		deadURL := "http://" + deadAddr(t) + "/bundles/gavel.tar.gz"
		unsafeTar := tarFolder(t, unsafe) // as is: gavel bundle build would refuse it
		for _, tc := range []struct {
			name   string
			source string
			env    []string
			want   []string
		}{
			{"url does not answer", deadURL, signingEnv("release", pub), []string{deadURL, "connection refused"}},
			{"not a bundle", "file://" + notBundle, []string{"GAVEL_POLICY__SIGNING__REQUIRED=false"}, []string{notBundle, `load bundle "gavel"`}},
			{"unknown key id", "file://" + unknownKey, signingEnv("release", pub), []string{unknownKey, "unknown key id", "someone-else"}},
			{"tampered", "file://" + tampered, signingEnv("release", pub), []string{"changed after signing", "gavel/enforcement/model.rego: digest mismatch"}},
			{"unsigned", "file://" + notSigned(t), signingEnv("release", pub), []string{"unsigned", "missing .signatures.json"}},
			{"does not compile", "file://" + unsafeTar, []string{"GAVEL_POLICY__SIGNING__REQUIRED=false"}, []string{unsafeTar, "var x is unsafe"}},
			{"overlapping roots", "file://" + overlapTar, []string{"GAVEL_POLICY__SIGNING__REQUIRED=false"}, []string{overlapTar, "overlap"}},
			{"signing required without a key", "file://" + good, nil, []string{"policy.signing", "signatures are required"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				want := 3
				if tc.env == nil {
					want = 2 // bad configuration
				}
				r := serveExpectingExit(t, append(tc.env, "GAVEL_POLICY__SOURCE="+tc.source)...)
				if r.code != want {
					t.Fatalf("gavel serve with %s: %v\nwant exit %d", tc.source, r, want)
				}
				last := lastLine(r.stderr)
				t.Logf("gavel serve: exit %d: %s", r.code, last)
				for _, w := range tc.want {
					if !strings.Contains(last, w) {
						t.Errorf("gavel serve's error lacks %q:\n%s", w, last)
					}
				}
			})
		}
	})
}

// notSigned builds the policies without signing them.
func notSigned(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "unsigned.tar.gz")
	if r := gavelCLI(t, "bundle", "build", "policies", "-r", "unsigned-1", "-o", out); r.code != 0 {
		t.Fatalf("gavel bundle build: %v", r)
	}
	return out
}

// tarFolder packs a policy folder (without tests and testdata) into a
// tarball as is, without compiling it.
func tarFolder(t testing.TB, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasSuffix(rel, "_test.rego") || strings.HasPrefix(rel, "testdata") ||
			!(strings.HasSuffix(rel, ".rego") || filepath.Base(rel) == "data.json" || rel == ".manifest") {
			return nil
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(body))}); err != nil {
			return err
		}
		_, err = tw.Write(body)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	return writeBytes(t, buf.Bytes())
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// serveExpectingExit runs gavel serve, which must exit by itself (a bundle
// that never becomes ready, with a short ready wait).
func serveExpectingExit(t testing.TB, env ...string) result {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs gavel (run without -short)")
	}
	cmd := exec.Command(filepath.Join(binDir, "gavel"), "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GAVEL_POLICY__READY_WAIT=4s", "GAVEL_POLICY__POLLING__MIN=1s", "GAVEL_POLICY__POLLING__MAX=1s"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("gavel serve did not exit within 90s\n%s", errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		r.code = ee.ExitCode()
	}
	return r
}

// TestSignedBundleHotReload switches signed revisions on an HTTP bundle
// server under a stream of decisions, refuses a tampered one while the good
// one keeps serving, and restarts on the persisted bundle with the server
// down.
func TestSignedBundleHotReload(t *testing.T) {
	t.Parallel()
	key, pub := keyPair(t, "release")
	revs := []string{"hot-1", "hot-2", "hot-3", "hot-4"}
	tarballs := map[string][]byte{}
	for _, rev := range revs {
		b, err := os.ReadFile(buildSigned(t, "policies", rev, key, "release"))
		if err != nil {
			t.Fatal(err)
		}
		tarballs[rev] = b
	}
	srv, hs := bundletest.New(t, tarballs["hot-1"])

	dataDir := t.TempDir()
	// The evaluation's deadline is long: what this test counts is decisions
	// a switch of revision failed, not evaluations a busy machine (the race
	// detector, the suite in parallel, the new revision compiling) slowed
	// past the default 250 ms, which fall back by design.
	env := append(signingEnv("release", pub),
		"GAVEL_POLICY__SOURCE="+hs.URL+bundletest.Path,
		"GAVEL_POLICY__POLLING__MIN=1s", "GAVEL_POLICY__POLLING__MAX=1s",
		"GAVEL_DECISION__POLICY_TIMEOUT=10s")
	g := startGavelIn(t, dataDir, env...)

	// Several callers decide continuously while the revisions switch.
	var (
		stop     atomic.Bool
		failed   atomic.Int64
		total    atomic.Int64
		lastErr  atomic.Value
		seen     sync.Map // revision → true
		wg       sync.WaitGroup
		decision = g.decisions()
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := decision.Decide(ctxT(t), connect.NewRequest(signup("amelia@mailinator.com")))
				total.Add(1)
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				if resp.Msg.GetFallback() {
					failed.Add(1)
					lastErr.Store("fallback decision on revision " + resp.Msg.GetBundleRevision())
				}
				seen.Store(resp.Msg.GetBundleRevision(), true)
			}
		}()
	}
	waitRevision := func(rev string) {
		t.Helper()
		eventually(t, 60*time.Second, "revision "+rev+" in Decide responses", func() (bool, string) {
			_, ok := seen.Load(rev)
			return ok, fmt.Sprintf("%d decisions", total.Load())
		})
	}
	waitRevision("hot-1")
	for _, rev := range revs[1:] {
		srv.Set(tarballs[rev])
		waitRevision(rev)
	}

	// A file changed after signing: refused, hot-4 keeps serving.
	srv.Set(tamper(t, buildSigned(t, "policies", "hot-5", key, "release"), "gavel/enforcement/decision.rego", "\n# changed after signing\n"))
	admin := g.admin()
	eventually(t, 60*time.Second, "the tampered bundle refused in GetStatus", func() (bool, string) {
		st, err := admin.GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
		if err != nil {
			return false, err.Error()
		}
		b := activeBundle(st.Msg)
		return b != nil && strings.Contains(b.GetLastError(), "changed after signing"), fmt.Sprint(b)
	})
	before := total.Load()
	eventually(t, 30*time.Second, "more decisions after the refusal", func() (bool, string) {
		return total.Load() > before+20, fmt.Sprint(total.Load())
	})
	stop.Store(true)
	wg.Wait()
	if _, ok := seen.Load("hot-5"); ok {
		t.Error("a decision was made on the tampered hot-5")
	}
	st, err := admin.GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if b := activeBundle(st.Msg); b.GetRevision() != "hot-4" || !b.GetReady() || !strings.Contains(b.GetLastError(), "gavel/enforcement/decision.rego: digest mismatch") {
		t.Errorf("GetStatus().bundles[active] = %v, want hot-4 serving and the refusal in last_error", b)
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d decisions failed during hot reload; last: %v", n, total.Load(), lastErr.Load())
	}
	if !strings.Contains(g.Logs(), "digest mismatch") {
		t.Errorf("gavel's log does not show the refusal")
	}
	t.Logf("%d decisions, 0 failed, across 4 revisions and a refusal", total.Load())

	// Restart with the bundle server down: the persisted bundle serves.
	if err := g.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop gavel: %v", err)
	}
	hs.Close()
	if !fileExists(filepath.Join(dataDir, "bundles", "persist")) {
		t.Fatalf("no persisted bundle under %s", filepath.Join(dataDir, "bundles", "persist"))
	}
	g2 := startGavelIn(t, dataDir, env...)
	resp, err := g2.decisions().Decide(ctxT(t), connect.NewRequest(signup("amelia@mailinator.com")))
	if err != nil {
		t.Fatalf("Decide after a restart with the bundle server down: %v", err)
	}
	if resp.Msg.GetBundleRevision() != "hot-4" || resp.Msg.GetFallback() {
		t.Errorf("Decide() after restart = revision %q fallback %v, want hot-4 from the persisted bundle", resp.Msg.GetBundleRevision(), resp.Msg.GetFallback())
	}
}

func activeBundle(st *adminv1.GetStatusResponse) *adminv1.BundleStatus {
	for _, b := range st.GetBundles() {
		if b.GetRole() == "active" {
			return b
		}
	}
	return nil
}
