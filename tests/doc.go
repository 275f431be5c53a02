// Package tests holds gavel's end-to-end tests, which build the binaries and
// talk to a running `gavel serve` with its real detector plugins, and the
// in-process Decide benchmarks that `make bench` runs.
package tests
