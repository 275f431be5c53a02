// Package data embeds the geo detector's IP database and hosting list (see
// SOURCE.md), so that gavel can run the detector in process as well as the
// plugin binary.
package data

import _ "embed"

var (
	//go:embed geo.db.gz
	Database []byte
	//go:embed hosting.txt
	Hosting string
	//go:embed VERSION
	Version string
)
