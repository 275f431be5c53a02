package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Assets are embedded: the console's own CSS and JavaScript, and htmx and
// uPlot vendored from npm by `make console-assets` (assets/vendor, with
// their licences).
//
//go:embed assets
var assetFS embed.FS

type asset struct {
	body []byte
	gz   []byte // body gzipped, when that is smaller
	etag string
	typ  string
}

type assets struct{ byName map[string]asset }

// assetVersions maps an asset's name to its content hash, for URLs that
// change when the file does.
var assetVersions = map[string]string{}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]asset{}}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		sum := sha256.Sum256(b)
		v := hex.EncodeToString(sum[:6])
		typ := mime.TypeByExtension(path.Ext(name))
		if typ == "" {
			typ = "text/plain; charset=utf-8"
		}
		x := asset{body: b, etag: `"` + v + `"`, typ: typ}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			x.gz = buf.Bytes()
		}
		a.byName[name] = x
		assetVersions[name] = v
		return nil
	})
	return a, err
}

// AssetSizes is the size in bytes of each embedded asset.
func AssetSizes() (map[string]int, error) {
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for n, x := range a.byName {
		out[n] = len(x.body)
	}
	return out, nil
}

func assetPath(name string) string {
	return Prefix + "assets/" + name + "?v=" + assetVersions[name]
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	x, ok := a.byName[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", x.typ)
	h.Set("ETag", x.etag)
	if r.URL.Query().Get("v") == strings.Trim(x.etag, `"`) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == x.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if x.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		w.Write(x.gz)
		return
	}
	w.Write(x.body)
}
