// Command email is gavel's built-in email detector plugin; the host starts it.
// Its domain lists are embedded from data/ (see data/SOURCE.md).
package main

import (
	_ "embed"

	"github.com/gavel/gavel/plugins/detectors/email/emailrisk"
	"github.com/gavel/gavel/plugins/sdk"
)

var (
	//go:embed data/disposable.txt
	disposable string
	//go:embed data/disposable_wildcard.txt
	disposableWildcard string
	//go:embed data/free.txt
	free string
)

func main() {
	sdk.Serve(emailrisk.New(emailrisk.ParseLists(disposable, disposableWildcard, free)))
}
