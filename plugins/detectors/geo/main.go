// Command geo is gavel's built-in geo detector plugin; the host starts it.
// Its IP database and hosting list are embedded from data/ (see
// data/SOURCE.md) and loaded once at start.
package main

import (
	"bytes"
	_ "embed"
	"os"
	"strings"
	"time"

	"github.com/gavel/gavel/plugins/detectors/geo/geoip"
	"github.com/gavel/gavel/plugins/sdk"
)

var (
	//go:embed data/geo.db.gz
	database []byte
	//go:embed data/hosting.txt
	hosting string
	//go:embed data/VERSION
	dataVersion string
)

func main() {
	log := sdk.Logger()
	start := time.Now()
	db, err := geoip.Load(bytes.NewReader(database))
	if err != nil {
		log.Error("cannot load the embedded IP database", "error", err)
		os.Exit(1)
	}
	h, err := geoip.ParseHosting(hosting)
	if err != nil {
		log.Error("cannot parse the embedded hosting list", "error", err)
		os.Exit(1)
	}
	version := strings.TrimSpace(dataVersion)
	log.Debug("IP database loaded", "data", version, "took", time.Since(start), "tables", db.Stats())
	sdk.Serve(geoip.New(db, h, version))
}
