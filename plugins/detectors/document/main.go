// Command document is gavel's built-in identity document detector plugin;
// the host starts it.
package main

import (
	"os"

	"github.com/gavel/gavel/plugins/detectors/document/iddoc"
	"github.com/gavel/gavel/plugins/sdk"
)

func main() {
	cfg, err := iddoc.LoadConfig(sdk.Env)
	if err != nil {
		sdk.Logger().Error("bad configuration", "error", err)
		os.Exit(1)
	}
	sdk.Serve(iddoc.New(cfg))
}
