// Package scenarios is gavel's seeded scenario suite: realistic journeys
// (signup, login, identity verification, payout details, withdrawal) of
// honest people (at home, travelling, on a VPN, sharing a family laptop,
// with Cyrillic, Greek or Serbian documents, living abroad) and of fraud
// (device farms, reused documents, payout mules, location lies, payouts to
// someone else, rented accounts, signup bursts under load), decided by
// gavel's real decision path in one process (see Harness), and measured
// against the targets: at least 95 % of fraud at challenge or worse, at most
// 1 % of honest people challenged and 0.1 % suspended.
//
//	go test -run TestScenarios -v ./tests/scenarios   # prints the per-kind table
package scenarios
