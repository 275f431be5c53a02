// Package data embeds the email detector's domain lists (see SOURCE.md), so
// that gavel can run the detector in process as well as the plugin binary.
package data

import _ "embed"

var (
	//go:embed disposable.txt
	Disposable string
	//go:embed disposable_wildcard.txt
	DisposableWildcard string
	//go:embed free.txt
	Free string
)
