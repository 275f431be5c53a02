package bundles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// watcher returns the loop that asks OPA to reload a local source when its
// content changes. OPA's file loader reads a folder or tarball once; the
// bundle server protocol (ETag, polling) covers HTTP sources.
func (e *Engine) watcher(ctx context.Context, last string) func() {
	return func() {
		defer close(e.watchDone)
		t := time.NewTicker(e.cfg.Polling.Min)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fp := fingerprint(e.src.path)
			if fp == last {
				continue
			}
			last = fp
			// The outcome reaches Status through the plugin's listener and
			// the compiler trigger, and OPA logs load failures itself.
			_ = e.plugin.Trigger(ctx)
		}
	}
}

// fingerprint hashes the names and contents of every file under path (or
// of the file itself). An unreadable source hashes to its error, so a
// source that appears or disappears is a change too.
func fingerprint(path string) string {
	h := sha256.New()
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		io.WriteString(h, rel)
		h.Write([]byte{0})
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		h.Write([]byte{0})
		return err
	})
	if err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}
