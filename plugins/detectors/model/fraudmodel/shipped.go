package fraudmodel

import _ "embed"

// Shipped is the model `make model` trains (model.json beside this file),
// embedded by the plugin binary and by gavel's in-process detector.
//
//go:embed model.json
var Shipped []byte
