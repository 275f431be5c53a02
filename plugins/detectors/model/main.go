// Command model is gavel's built-in fraud-model detector plugin; the host
// starts it. The model is embedded from fraudmodel/model.json, which `make model`
// trains (see train/ and EVALUATION.md); a model file this binary cannot
// score is a start-up error.
package main

import (
	"os"

	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
	"github.com/gavel/gavel/plugins/sdk"
)

var modelJSON = fraudmodel.Shipped

func main() {
	m, err := fraudmodel.Load(modelJSON)
	if err != nil {
		sdk.Logger().Error("cannot load the embedded model", "error", err)
		os.Exit(1)
	}
	sdk.Serve(fraudmodel.NewDetector(m))
}
