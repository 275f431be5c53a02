// Package lists is gavel's runtime lists: block and allow lists of emails,
// email domains, phones, device ids, IP addresses and ranges, payout
// accounts, document numbers and subject ids that operators edit while gavel
// runs. It validates and normalises values (kinds.go), hashes personal ones
// with a key (hash.go), applies changes through a Store that keeps them and
// their audit trail (the ledger), and matches every decision's request
// against an in-memory index that follows the store's change feed
// (matcher.go), so a change reaches every replica within a second.
//
// In the flow of a decision the engine calls the Matcher beside the history
// read and the detectors; the matches reach the policy as input.lists, and
// the policy decides what a hit does.
package lists
