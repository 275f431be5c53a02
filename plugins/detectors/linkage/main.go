// Command linkage is gavel's built-in linkage detector plugin; the host starts
// it. Its store is SQLite under the detector's data folder, or PostgreSQL when
// POSTGRES_DSN is configured (env: {postgres_dsn: …}).
package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/gavel/gavel/plugins/detectors/linkage/links"
	"github.com/gavel/gavel/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	cfg, err := links.LoadConfig(sdk.Env)
	if err != nil {
		log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var store *links.Store
	if cfg.PostgresDSN != "" {
		store, err = links.OpenPostgres(ctx, cfg.PostgresDSN)
	} else {
		store, err = links.OpenSQLite(ctx, filepath.Join(sdk.DataDir(), "linkage.db"))
	}
	cancel()
	if err != nil {
		log.Error("cannot open store", "error", err)
		os.Exit(1)
	}
	defer store.Close()
	sdk.Serve(links.NewDetector(store, cfg))
}
