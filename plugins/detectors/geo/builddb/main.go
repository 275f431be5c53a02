// Command builddb writes the geo detector's database from the ip-location-db
// CSV files; data/update.sh runs it. Usage:
//
//	go run ./plugins/detectors/geo/builddb -out geo.db.gz \
//	    -country geo-whois-asn-country-ipv4.csv -country geo-whois-asn-country-ipv6.csv \
//	    -asn asn-ipv4.csv -asn asn-ipv6.csv
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gavel/gavel/plugins/detectors/geo/geoip"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "builddb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("builddb", flag.ContinueOnError)
	var country, asn files
	fs.Var(&country, "country", "a country CSV (first_ip,last_ip,country); repeatable")
	fs.Var(&asn, "asn", "an ASN CSV (first_ip,last_ip,asn,organisation); repeatable")
	out := fs.String("out", "", "the database file to write (gzip)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || len(country) == 0 || len(asn) == 0 {
		return errors.New("need -out, at least one -country and at least one -asn file")
	}
	var b geoip.Builder
	for _, name := range country {
		if err := add(name, b.AddCountryCSV); err != nil {
			return err
		}
	}
	for _, name := range asn {
		if err := add(name, b.AddASNCSV); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	stats, err := b.Write(&buf)
	if err != nil {
		return err
	}
	// Check the result loads before replacing the old file.
	if _, err := geoip.Load(bytes.NewReader(buf.Bytes())); err != nil {
		return fmt.Errorf("written database does not load: %w", err)
	}
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, stats[k]))
	}
	fmt.Printf("%s: %d bytes, %s\n", filepath.Base(*out), buf.Len(), strings.Join(parts, " "))
	return nil
}

func add(name string, f func(string, io.Reader) error) error {
	r, err := os.Open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	return f(filepath.Base(name), r)
}
