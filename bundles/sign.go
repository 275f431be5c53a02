package bundles

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Key is a signing or verification key as the bundle commands take it.
type Key struct {
	ID string
	// Material is the PEM-encoded key (private to sign, public to verify)
	// or the shared secret for HS* algorithms.
	Material string
	// Algorithm is the JWT algorithm. Default "RS256".
	Algorithm string
	// Scope, when set, is written into (sign) or required of (verify) the
	// signature.
	Scope string
}

func (k Key) withDefaults() Key {
	if k.Algorithm == "" {
		k.Algorithm = "RS256"
	}
	return k
}

func (k Key) validate() error {
	var errs []error
	if k.ID == "" {
		errs = append(errs, errors.New("key id is required"))
	}
	if k.Material == "" {
		errs = append(errs, errors.New("key is required"))
	}
	if !slices.Contains(algorithms, k.Algorithm) {
		errs = append(errs, fmt.Errorf("algorithm %q: want one of %s", k.Algorithm, strings.Join(algorithms, ", ")))
	}
	return errors.Join(errs...)
}

// ReadKey reads key material the way OPA's CLI does: the contents of the
// file at pathOrSecret, or, for HS* algorithms only, the string itself as
// the shared secret.
func ReadKey(pathOrSecret, algorithm string) (string, error) {
	b, err := os.ReadFile(pathOrSecret)
	if err == nil {
		return string(b), nil
	}
	if strings.HasPrefix(algorithm, "HS") && errors.Is(err, os.ErrNotExist) {
		return pathOrSecret, nil
	}
	return "", fmt.Errorf("read key: %w", err)
}

// Sign replaces the bundle's .signatures.json with a JWT, signed with key,
// over the hashes of its files (OPA's bundle signature format).
func Sign(b *bundle.Bundle, key Key) error {
	key = key.withDefaults()
	if err := key.validate(); err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	sc := bundle.NewSigningConfig(key.Material, key.Algorithm, "")
	if key.Scope != "" {
		claims, err := scopeClaims(key.Scope)
		if err != nil {
			return err
		}
		defer os.Remove(claims)
		sc = bundle.NewSigningConfig(key.Material, key.Algorithm, claims)
	}
	if err := b.GenerateSignature(sc, key.ID, false); err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	return nil
}

// scopeClaims writes the scope claim to a temporary file, the only way
// OPA's signer takes extra claims.
func scopeClaims(scope string) (string, error) {
	f, err := os.CreateTemp("", "gavel-claims-*.json")
	if err != nil {
		return "", fmt.Errorf("sign bundle: %w", err)
	}
	defer f.Close()
	if err := json.NewEncoder(f).Encode(map[string]string{"scope": scope}); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("sign bundle: %w", err)
	}
	return f.Name(), nil
}

// VerificationConfig is OPA's verification configuration for one key. The
// key id is not forced onto the signature: the signature's own key id
// (its JWT "kid") must name this key, so a bundle signed with another key
// is refused as an unknown key id.
func VerificationConfig(key Key) (*bundle.VerificationConfig, error) {
	key = key.withDefaults()
	if err := key.validate(); err != nil {
		return nil, fmt.Errorf("verification: %w", err)
	}
	keys := map[string]*bundle.KeyConfig{key.ID: {Key: key.Material, Algorithm: key.Algorithm, Scope: key.Scope}}
	return bundle.NewVerificationConfig(keys, "", key.Scope, nil), nil
}

// ReadBundle reads a bundle tarball or folder. With vc it verifies the
// signature and every file's hash (an unsigned bundle is refused); without,
// signatures are not checked.
func ReadBundle(path string, vc *bundle.VerificationConfig) (*bundle.Bundle, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	var r *bundle.Reader
	if fi.IsDir() {
		r = bundle.NewCustomReader(bundle.NewDirectoryLoader(path).WithFilter(sourceFilter(false)))
	} else {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", path, err)
		}
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			return nil, fmt.Errorf("bundle %s: not a bundle: want a gzip-compressed tarball or a folder", path)
		}
		r = bundle.NewReader(bytes.NewReader(data))
	}
	r = r.WithRegoVersion(ast.RegoV1)
	if vc != nil {
		r = r.WithBundleVerificationConfig(vc)
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, explain(err, vc))
	}
	if vc == nil && len(b.Signatures.Signatures) == 0 {
		// Reading without verification skips .signatures.json; keep it
		// so the bundle can be inspected.
		if b.Signatures, err = readSignatures(path, fi.IsDir()); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", path, err)
		}
	}
	return &b, nil
}

// readSignatures reads the .signatures.json of a folder or tarball, if any.
func readSignatures(path string, dir bool) (bundle.SignaturesConfig, error) {
	var sc bundle.SignaturesConfig
	var raw []byte
	if dir {
		b, err := os.ReadFile(filepath.Join(path, ".signatures.json"))
		if errors.Is(err, os.ErrNotExist) {
			return sc, nil
		} else if err != nil {
			return sc, err
		}
		raw = b
	} else {
		f, err := os.Open(path)
		if err != nil {
			return sc, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return sc, err
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return sc, nil
			} else if err != nil {
				return sc, err
			}
			if strings.TrimPrefix(h.Name, "/") == ".signatures.json" {
				if raw, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
					return sc, err
				}
				break
			}
		}
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		return sc, fmt.Errorf(".signatures.json: %w", err)
	}
	return sc, nil
}

// explain adds what OPA's verification messages leave implicit.
func explain(err error, vc *bundle.VerificationConfig) error {
	msg := err.Error()
	if strings.Contains(msg, "verification key corresponding to ID") {
		if vc == nil {
			return fmt.Errorf("signed with an unknown key id: %w", err)
		}
		known := slices.Sorted(maps.Keys(vc.PublicKeys))
		return fmt.Errorf("signed with an unknown key id (known: %s): %w", strings.Join(known, ", "), err)
	}
	switch {
	case strings.Contains(msg, "bundle read failed"), strings.Contains(msg, "archive read failed"):
		return fmt.Errorf("not a bundle tarball: %w", err)
	case strings.Contains(msg, "digest mismatch"):
		return fmt.Errorf("a file changed after signing: %w", err)
	case strings.Contains(msg, "missing .signatures.json"):
		return fmt.Errorf("unsigned: %w", err)
	case strings.Contains(msg, "failed to verify JWT signature"):
		return fmt.Errorf("signature does not match the key: %w", err)
	case strings.Contains(msg, "not included in bundle signature"):
		return fmt.Errorf("a file was added after signing: %w", err)
	case strings.Contains(msg, "specified in bundle signatures but not found"):
		return fmt.Errorf("a file was removed after signing: %w", err)
	}
	return err
}

// WriteBundle writes b as a tarball at path, atomically.
func WriteBundle(path string, b *bundle.Bundle) error {
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(*b); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bundle-*.tar.gz")
	if err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	return nil
}

// Inspection describes a bundle without activating it.
type Inspection struct {
	Revision string   `json:"revision"`
	Roots    []string `json:"roots"`
	Files    []string `json:"files"`
	// Signed says the bundle has a .signatures.json; KeyID is the key id
	// its signature names (not verified here).
	Signed     bool   `json:"signed"`
	KeyID      string `json:"key_id,omitempty"`
	Entrypoint string `json:"entrypoint"`
	// EntrypointDefined says the entry point has rules; CompileError says
	// why the bundle does not compile, when it does not.
	EntrypointDefined bool   `json:"entrypoint_defined"`
	CompileError      string `json:"compile_error,omitempty"`
}

// Inspect reports a bundle's revision, roots, files, signature key id and
// whether it defines entrypoint (default DefaultEntrypoint).
func Inspect(path string, b *bundle.Bundle, entrypoint string) (Inspection, error) {
	if entrypoint == "" {
		entrypoint = DefaultEntrypoint
	}
	ep, err := parseEntrypoint(entrypoint)
	if err != nil {
		return Inspection{}, err
	}
	in := Inspection{Revision: b.Manifest.Revision, Entrypoint: entrypoint, Roots: []string{}}
	if b.Manifest.Roots != nil {
		in.Roots = slices.Clone(*b.Manifest.Roots)
	}
	for _, m := range b.Modules {
		in.Files = append(in.Files, strings.TrimPrefix(m.URL, "/"))
	}
	if len(b.Data) > 0 {
		in.Files = append(in.Files, "data.json")
	}
	slices.Sort(in.Files)
	if len(b.Signatures.Signatures) > 0 {
		in.Signed = true
		in.KeyID = signatureKeyID(b.Signatures.Signatures[0])
	}
	c, err := Check(path, b, "", false)
	if err != nil {
		in.CompileError = err.Error()
		return in, nil
	}
	in.EntrypointDefined = len(c.GetRules(ep)) > 0
	return in, nil
}

// signatureKeyID reads the key id from a signature's JWT header ("kid"),
// or from its deprecated "keyid" claim.
func signatureKeyID(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil && json.Unmarshal(raw, &hdr) == nil && hdr.Kid != "" {
		return hdr.Kid
	}
	var claims bundle.DecodedSignature
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(raw, &claims) == nil {
		return claims.KeyID
	}
	return ""
}
