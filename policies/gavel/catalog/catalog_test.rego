package gavel.catalog_test

import data.gavel.catalog
import data.gavel.enforcement

# Every code a rule can emit must be in the catalog, and every catalog code must
# be emittable. The sweep below drives the policy over every checkpoint (and one
# the tables do not list) with every known signal alone in each score band,
# with every signal alone and at once under prior strikes and a suspension, and with each detector
# failing, and collects the codes of every reason that comes out. A new rule
# reading a new signal must add the signal to signal_names (and to
# policies/input.schema.json).

checkpoints := array.concat(
	["signup", "login", "profile_update", "identity_verification"],
	["payout_method_change", "proposal_submit", "contract_start", "withdrawal", "account_recovery"],
)

signal_names := [
	"email.invalid", "email.disposable", "email.free_provider", "email.random_local_part", "email.plus_alias",
	"velocity.signups_per_ip", "velocity.signups_per_device", "velocity.signups_per_email_domain",
	"velocity.payout_changes_per_account",
	"geo.ip_country", "geo.hosting_asn", "geo.country_mismatch",
	"phone.invalid", "phone.voip", "phone.country", "phone.country_mismatch",
	"linkage.shared_device", "linkage.shared_payout_account", "linkage.shared_document", "linkage.suspended_link",
	"document.name_mismatch", "document.expired", "document.country", "document.country_mismatch",
	"document.vendor_rejected", "document.dob_mismatch",
	"payout.holder_mismatch",
	"model.fraud_score",
]

# Country signals carry a country; the others a count of accounts.
sweep_value(name) := "NG" if endswith(name, "_country")

else := "6"

sweep_sig(name, s) := {"score": s, "value": sweep_value(name), "confidence": 1, "source": "sweep", "evidence": {"via": "payout"}}

sweep_input(cp, sigs, dets, strikes, suspended) := object.union(enforcement.fixture_input, {
	"checkpoint": cp,
	"signals": sigs,
	"detectors": dets,
	"history": {"suspended": suspended, "strikes": {"count": strikes, "codes": []}},
})

sweep_codes(x) := {r.code | some r in d.reasons} if {
	d := enforcement.decision with input as x
}

emitted_codes contains code if {
	some cp in checkpoints
	some n in signal_names
	some s in [0.3, 0.6, 0.85, 0.97]
	some code in sweep_codes(sweep_input(cp, {n: sweep_sig(n, s)}, {}, 0, false))
}

emitted_codes contains code if {
	some cp in checkpoints
	some n in signal_names
	some code in sweep_codes(sweep_input(cp, {n: sweep_sig(n, 0.6)}, {}, 2, false))
}

emitted_codes contains code if {
	some cp in checkpoints
	some h in [[0, false], [2, false], [0, true]]
	sigs := {n: sweep_sig(n, 0.97) | some n in signal_names}
	some code in sweep_codes(sweep_input(cp, sigs, {}, h[0], h[1]))
}

emitted_codes contains code if {
	some cp in checkpoints
	some name in ["linkage", "document", "email", "geo", "phone", "velocity", "model"]
	dets := {name: {"status": "timeout", "version": "", "latency_ms": 0}}
	some code in sweep_codes(sweep_input(cp, {}, dets, 0, false))
}

# Every detector failing at once.
emitted_codes contains code if {
	some cp in checkpoints
	dets := {name: {"status": "timeout", "version": "", "latency_ms": 0} |
		some name in ["linkage", "document", "email", "geo", "phone", "velocity", "model"]
	}
	some code in sweep_codes(sweep_input(cp, {}, dets, 0, false))
}

# Caller attributes the rules read: a payout account abroad.
emitted_codes contains code if {
	some cp in checkpoints
	x := object.union(sweep_input(cp, {}, {}, 0, false), {"attributes": {"payout": {"country": "NG"}}})
	some code in sweep_codes(x)
}

# A hold in force binds the checkpoints that use its capability.
emitted_codes contains code if {
	some cp in checkpoints
	hold := {"capability": "withdrawals", "since": "2025-05-01T00:00:00Z", "decision_id": "d-1", "remedy": "verify_identity"}
	x := object.union(sweep_input(cp, {}, {}, 0, false), {"history": {"holds": [hold]}})
	some code in sweep_codes(x)
}

# A block-list hit (input.lists).
emitted_codes contains code if {
	some cp in checkpoints
	some a in ["warn", "suspend"]
	hit := {"list": "l", "kind": "ip", "purpose": "block", "field": "context.ip", "action": a, "exempts": [], "entry": "192.0.2.0/24", "note": ""}
	some code in sweep_codes(object.union(sweep_input(cp, {}, {}, 0, false), {"lists": [hit]}))
}

# Codes gavel itself emits, outside the policy.
engine_codes := {"POLICY_UNAVAILABLE", "LEDGER_UNAVAILABLE"}

# Codes reviewers give their manual actions (catalog entries marked manual).
manual_codes := {c | some c, e in catalog.reasons; e.manual == true}

# Operational reasons are about gavel's state, and a hold re-asserted takes
# nothing new away: nothing to appeal.
not_appealable := (enforcement.operational_codes | engine_codes) | {"HOLD_ACTIVE"}

# One test, so the sweep runs once.
test_catalog_matches_the_codes_rules_emit if {
	codes := emitted_codes
	missing := {c | some c in codes; not catalog.reasons[c]}
	dead := (({c | some c, _ in catalog.reasons} - codes) - engine_codes) - manual_codes
	print("emitted but not in the catalog:", missing)
	print("in the catalog but never emitted:", dead)
	count(missing) == 0
	count(dead) == 0

	# guards the sweep itself: if it stopped exercising rules, the checks above would pass vacuously
	count(codes) == 27

	every c in codes {
		want := {true: false, false: true}[c in not_appealable]
		catalog.reasons[c].appealable == want
	}
}

test_catalog_entries_are_complete if {
	every code, e in catalog.reasons {
		print("checking", code)
		regex.match(`^[A-Z][A-Z0-9_]+$`, code)
		every f in ["title", "message", "explanation", "ground"] {
			is_string(e[f])
			e[f] != ""
		}
		is_boolean(e.appealable)
		e.dsa_category == "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
		e.dsa_keyword in {"KEYWORD_INAUTHENTIC_ACCOUNTS", "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"}
		startswith(e.ground, "Terms of Service §")
		count(e.explanation) <= 5000
	}
}

# Words that would reveal detection internals or other accounts to the account holder.
internal_words := [
	"score", "signal", "detector", "model", "probabilit", "threshold", "velocity",
	"asn", "hosting", "datacenter", "vpn", "proxy", "voip", "disposable",
	"linked", "other account", "another account", "suspended account", "device", "vendor",
	"strike", "ladder", "rule",
]

test_messages_are_user_safe if {
	every code, e in catalog.reasons {
		leaks := [w | some w in internal_words; contains(lower(e.message), w)]
		print(code, "message leaks", leaks)
		count(leaks) == 0
	}
}

test_manual_codes if {
	manual_codes == {"IDENTITY_FRAUD", "ACCOUNT_TAKEOVER", "POLICY_VIOLATION", "REINSTATED"}
	every c in manual_codes - {"REINSTATED"} {
		catalog.reasons[c].appealable == true
	}
	catalog.reasons.REINSTATED.appealable == false
}

test_every_remedy_the_policy_picks_is_in_the_catalog if {
	every code, _ in enforcement.remedy_rank {
		is_string(catalog.remedies[code].checkpoint)
		catalog.remedies[code].checkpoint != ""
		is_string(catalog.remedies[code].message)
		catalog.remedies[code].message != ""
	}
}

# A reason marked for review says so with a boolean and, when it has an SLA of
# its own, a positive Go duration.
test_catalog_review_marks_are_well_formed if {
	every r in catalog.reasons {
		is_boolean(object.get(r, "review", false))
		review_sla_ok(r)
	}
}

review_sla_ok(r) if not r.review_sla

review_sla_ok(r) if time.parse_duration_ns(r.review_sla) > 0
