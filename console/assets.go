package console

import (
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
		a.byName[name] = asset{body: b, etag: `"` + v + `"`, typ: typ}
		assetVersions[name] = v
		return nil
	})
	return a, err
}

// Size is the embedded assets' total size in bytes, by file.
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
	if r.Header.Get("If-None-Match") == x.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(x.body)
}
