// Package builtin runs gavel's built-in detectors (plugins/detectors/<name>)
// inside gavel's own process, through the same interface their plugin
// binaries serve: each Opener builds the detector exactly as the binary's
// main does, from the same embedded data, with its env and data folder
// given by the host instead of the process environment. The host's
// guarantees for in-process detectors are in plugins/host/inprocess.go.
package builtin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gavel/gavel/plugins/detectors/document/iddoc"
	emaildata "github.com/gavel/gavel/plugins/detectors/email/data"
	"github.com/gavel/gavel/plugins/detectors/email/emailrisk"
	geodata "github.com/gavel/gavel/plugins/detectors/geo/data"
	"github.com/gavel/gavel/plugins/detectors/geo/geoip"
	"github.com/gavel/gavel/plugins/detectors/linkage/links"
	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
	"github.com/gavel/gavel/plugins/detectors/phone/phonerisk"
	"github.com/gavel/gavel/plugins/detectors/velocity/window"
	"github.com/gavel/gavel/plugins/host"
)

var openers = map[string]host.Opener{
	"document": func(_ context.Context, env func(string, string) string, _ string) (host.InProcess, io.Closer, error) {
		cfg, err := iddoc.LoadConfig(env)
		if err != nil {
			return nil, nil, err
		}
		return iddoc.New(cfg), nil, nil
	},
	"email": func(context.Context, func(string, string) string, string) (host.InProcess, io.Closer, error) {
		return emailrisk.New(emailrisk.ParseLists(emaildata.Disposable, emaildata.DisposableWildcard, emaildata.Free)), nil, nil
	},
	"geo": func(context.Context, func(string, string) string, string) (host.InProcess, io.Closer, error) {
		db, err := geoip.Load(bytes.NewReader(geodata.Database))
		if err != nil {
			return nil, nil, fmt.Errorf("load the embedded IP database: %w", err)
		}
		h, err := geoip.ParseHosting(geodata.Hosting)
		if err != nil {
			return nil, nil, fmt.Errorf("parse the embedded hosting list: %w", err)
		}
		return geoip.New(db, h, strings.TrimSpace(geodata.Version)), nil, nil
	},
	"phone": func(context.Context, func(string, string) string, string) (host.InProcess, io.Closer, error) {
		return phonerisk.New(), nil, nil
	},
	"model": func(context.Context, func(string, string) string, string) (host.InProcess, io.Closer, error) {
		m, err := fraudmodel.Load(fraudmodel.Shipped)
		if err != nil {
			return nil, nil, fmt.Errorf("load the embedded model: %w", err)
		}
		return fraudmodel.NewDetector(m), nil, nil
	},
	"velocity": func(ctx context.Context, env func(string, string) string, dataDir string) (host.InProcess, io.Closer, error) {
		cfg, err := window.LoadConfig(env)
		if err != nil {
			return nil, nil, err
		}
		if cfg.RedisURL != "" {
			store, err := window.OpenRedis(ctx, cfg.RedisURL)
			if err != nil {
				return nil, nil, err
			}
			return window.NewDetector(store, cfg), store, nil
		}
		store, err := window.Open(filepath.Join(folder(dataDir), "velocity.db"))
		if err != nil {
			return nil, nil, err
		}
		return window.NewDetector(store, cfg), store, nil
	},
	"linkage": func(ctx context.Context, env func(string, string) string, dataDir string) (host.InProcess, io.Closer, error) {
		cfg, err := links.LoadConfig(env)
		if err != nil {
			return nil, nil, err
		}
		var store *links.Store
		if cfg.PostgresDSN != "" {
			store, err = links.OpenPostgres(ctx, cfg.PostgresDSN)
		} else {
			store, err = links.OpenSQLite(ctx, filepath.Join(folder(dataDir), "linkage.db"))
		}
		if err != nil {
			return nil, nil, err
		}
		return links.NewDetector(store, cfg), store, nil
	},
}

// Names lists the built-in detectors, sorted.
func Names() []string {
	out := make([]string, 0, len(openers))
	for n := range openers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Opener returns the in-process constructor of the built-in detector name.
func Opener(name string) (host.Opener, bool) {
	o, ok := openers[name]
	return o, ok
}

// folder is the detector's data folder, or the system's temporary folder
// (as sdk.DataDir for a plugin).
func folder(dataDir string) string {
	if dataDir == "" {
		return os.TempDir()
	}
	return dataDir
}
