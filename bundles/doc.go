// Package bundles is gavel's policy engine: it loads the enforcement policy
// bundle from a folder, a tarball or an HTTP bundle server with OPA's own
// bundle plugin (ETag and long polling, signature verification,
// persistence), prepares the entry-point query once per activation together
// with the reason catalog, and evaluates it for the decision engine.
//
// Each Engine owns its own OPA plugin manager and store, so an active and a
// shadow engine can live side by side in one process. A bundle that OPA
// refuses (it does not compile, is unsigned when signing is required, fails
// verification) or that gavel refuses (no entry point, missing or malformed
// reason catalog, modules that fail the type check against the input
// schema) never replaces the one serving: the last good bundle keeps
// answering and Status says why the new one was refused.
//
// With Config.DecisionLogs the active engine also runs OPA's decision-log
// plugin and is a decision.Observer: each committed decision is queued,
// masked by the bundle's data.system.log.mask policy and uploaded by OPA.
package bundles
