// Command velocity is gavel's built-in velocity detector plugin; the host
// starts it.
package main

import (
	"os"
	"path/filepath"

	"github.com/gavel/gavel/plugins/detectors/velocity/window"
	"github.com/gavel/gavel/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	cfg, err := window.LoadConfig(sdk.Env)
	if err != nil {
		log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	store, err := window.Open(filepath.Join(sdk.DataDir(), "velocity.db"))
	if err != nil {
		log.Error("cannot open store", "error", err)
		os.Exit(1)
	}
	defer store.Close()
	sdk.Serve(window.NewDetector(store, cfg))
}
