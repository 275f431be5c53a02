package geoip

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Signal names; the Rego policies match on them.
const (
	SignalIPCountry       = "geo.ip_country"
	SignalHostingASN      = "geo.hosting_asn"
	SignalCountryMismatch = "geo.country_mismatch"
)

// Detector is the geo detector. It is safe for concurrent use.
type Detector struct {
	db      *DB
	hosting *Hosting
	version string
}

// New returns a detector over db and the hosting list. version names the
// data (shown to operators next to the detector's version).
func New(db *DB, hosting *Hosting, version string) *Detector {
	return &Detector{db: db, hosting: hosting, version: version}
}

// Describe implements sdk.Detector. The detector runs at every checkpoint.
func (d *Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	v := "1.0.0"
	if d.version != "" {
		v += "+" + d.version
	}
	return &detectorv1.DescribeResponse{
		Name:          "geo",
		Version:       v,
		Signals:       []string{SignalIPCountry, SignalHostingASN, SignalCountryMismatch},
		LatencyBudget: durationpb.New(10 * time.Millisecond),
	}, nil
}

// Detect implements sdk.Detector. A request without an IP address gets no
// signal; one the host did not validate (unparsable) gets none either.
func (d *Detector) Detect(_ context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	addr, err := netip.ParseAddr(strings.TrimSpace(req.GetContext().GetIp()))
	if err != nil {
		return &detectorv1.DetectResponse{}, nil
	}
	claimed := Claimed{
		Profile:  strings.ToUpper(strings.TrimSpace(req.GetSubject().GetProfile().GetCountry())),
		Document: documentCountry(req),
	}
	return &detectorv1.DetectResponse{Signals: d.Signals(addr.WithZone(""), claimed)}, nil
}

// Claimed is what the account says about its country.
type Claimed struct {
	Profile  string // subject.profile.country
	Document string // attributes.document.country, when present
}

// documentCountry reads attributes.document.country.
func documentCountry(req *detectorv1.DetectRequest) string {
	doc := req.GetAttributes().GetFields()["document"].GetStructValue()
	c := strings.ToUpper(strings.TrimSpace(doc.GetFields()["country"].GetStringValue()))
	if !isCountry(c) {
		return ""
	}
	return c
}

// Signals returns the signals for one address.
func (d *Detector) Signals(addr netip.Addr, claimed Claimed) []*detectorv1.Signal {
	addr = addr.Unmap()
	if why := unroutable(addr); why != "" {
		return []*detectorv1.Signal{sdk.NewSignal(SignalIPCountry, 0, "", map[string]any{"unknown": why}, 0)}
	}
	r := d.db.Lookup(addr)
	if r.Country == "" && r.ASN == 0 {
		return []*detectorv1.Signal{sdk.NewSignal(SignalIPCountry, 0, "", map[string]any{"unknown": "not_in_database"}, 0)}
	}
	asn := "AS" + strconv.FormatUint(uint64(r.ASN), 10)
	ev := map[string]any{}
	if r.ASN != 0 {
		ev["asn"] = asn
		ev["as_org"] = r.Org
	}
	confidence := 0.9
	if r.Country == "" {
		ev["unknown"] = "country_not_in_database"
		confidence = 0
	}
	out := []*detectorv1.Signal{sdk.NewSignal(SignalIPCountry, 0, r.Country, ev, confidence)}

	if m, ok := d.hosting.Match(r.ASN, r.Org); ok && r.ASN != 0 {
		hev := map[string]any{"asn": asn, "as_org": r.Org}
		conf := 0.95
		if m.Provider != "" {
			hev["match"] = "asn"
			hev["provider"] = m.Provider
		} else {
			hev["match"] = "org_pattern"
			hev["pattern"] = m.Pattern
			conf = 0.7
		}
		out = append(out, sdk.NewSignal(SignalHostingASN, 1, asn, hev, conf))
	}

	if r.Country != "" {
		var mismatched []string
		if claimed.Profile != "" && claimed.Profile != r.Country {
			mismatched = append(mismatched, "profile")
		}
		if claimed.Document != "" && claimed.Document != r.Country {
			mismatched = append(mismatched, "document")
		}
		if len(mismatched) > 0 {
			ev := map[string]any{"observed": r.Country, "mismatched": mismatched}
			if claimed.Profile != "" {
				ev["claimed"] = claimed.Profile
			}
			if claimed.Document != "" {
				ev["document_country"] = claimed.Document
			}
			if r.ASN != 0 {
				ev["asn"] = asn
			}
			out = append(out, sdk.NewSignal(SignalCountryMismatch, 1, r.Country, ev, 0.8))
		}
	}
	return out
}

// unroutable names why addr has no location, or returns "".
func unroutable(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link_local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.IsUnspecified():
		return "unspecified"
	}
	return ""
}
