package iddoc

import (
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/plugins/personname"
	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// nameMatchResults maps a vendor's (a bank's confirmation of payee, an
// account-verification service's) name-match result to a similarity.
var nameMatchResults = map[string]float64{
	"match": 1, "exact_match": 1, "matched": 1, "yes": 1, "true": 1,
	"close_match": 0.7, "partial_match": 0.7, "partial": 0.7,
	"no_match": 0, "mismatch": 0, "no": 0, "false": 0,
}

func claimedName(p *detectorv1.Profile) personname.Name {
	n := personname.Parse(p.GetGivenName(), p.GetFamilyName())
	if n.Empty() {
		n = personname.Parse(p.GetDisplayName(), "")
	}
	return n
}

// holderCheck compares the payout holder's name with the profile's and the
// document's (given, family) and takes the closer; a vendor's name-match
// result, when the caller sends one, decides instead (the vendor saw the
// account's real holder). No holder and no vendor result: no signal.
func holderCheck(payout map[string]*structpb.Value, docGiven, docFamily string, p *detectorv1.Profile) *detectorv1.Signal {
	holder := strings.TrimSpace(stringOf(payout["holder_name"]))
	ev := map[string]any{}
	sim, known := -1.0, false
	if holder != "" {
		best, against := personname.HolderMatch{}, ""
		for _, c := range []struct {
			label string
			name  personname.Name
		}{{"profile", claimedName(p)}, {"document", personname.Parse(docGiven, docFamily)}} {
			if c.name.Empty() {
				continue
			}
			if m := personname.MatchHolder(holder, c.name); against == "" || m.Similarity > best.Similarity {
				best, against = m, c.label
			}
		}
		if against != "" {
			sim, known = best.Similarity, true
			ev["similarity"] = best.Similarity
			ev["closest"] = against
			how := make([]any, len(best.How))
			for i, h := range best.How {
				how[i] = h
			}
			ev["how"] = how
			ev["reordered"] = best.Reordered
		}
	}
	if v, ok := payout["name_match"]; ok {
		vs, vsim := vendorNameMatch(v)
		if vs != "" {
			ev["vendor_name_match"] = vs
		}
		if vsim >= 0 {
			sim, known = vsim, true
			ev["decided_by"] = "vendor"
		}
	}
	if !known {
		return nil
	}
	if _, ok := ev["decided_by"]; !ok {
		ev["decided_by"] = "gavel"
	}
	score := math.Round((1-sim)*1000) / 1000
	return sdk.NewSignal(SignalHolderMismatch, score, fmt.Sprintf("%.3f", score), ev, 0.9)
}

// vendorNameMatch reads a vendor's name-match result: a word from
// nameMatchResults or a similarity 0..1. It returns the normalised result
// and the similarity, or -1 when it says nothing usable ("unavailable").
func vendorNameMatch(v *structpb.Value) (string, float64) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		if f := k.NumberValue; f >= 0 && f <= 1 {
			return fmt.Sprint(f), f
		}
		return fmt.Sprint(k.NumberValue), -1
	case *structpb.Value_BoolValue:
		if k.BoolValue {
			return "true", 1
		}
		return "false", 0
	case *structpb.Value_StringValue:
		w := normaliseWord(k.StringValue)
		if f, ok := nameMatchResults[w]; ok {
			return w, f
		}
		return w, -1
	}
	return "", -1
}
