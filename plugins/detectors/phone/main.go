// Command phone is gavel's built-in phone detector plugin; the host starts it.
// Its numbering plan metadata comes from github.com/nyaruka/phonenumbers
// (libphonenumber's data), compiled in.
package main

import (
	"github.com/gavel/gavel/plugins/detectors/phone/phonerisk"
	"github.com/gavel/gavel/plugins/sdk"
)

func main() {
	sdk.Serve(phonerisk.New())
}
