// Command document is gavel's built-in identity document detector plugin;
// the host starts it.
package main

import (
	"github.com/gavel/gavel/plugins/detectors/document/iddoc"
	"github.com/gavel/gavel/plugins/sdk"
)

func main() {
	sdk.Serve(iddoc.Detector{})
}
