package gavel.enforcement

# Fixtures shared by the tests in this package: an honest account holder (a
# gmail user in Portugal, claiming Portugal) and builders around it.

fixture_input := {
	"subject": {
		"id": "acct-1001",
		"kind": "freelancer",
		"created_at": "2024-03-01T09:00:00Z",
		"age_days": 457.1,
		"profile": {
			"given_name": "Ana",
			"family_name": "Silva",
			"display_name": "Ana S.",
			"country": "PT",
			"email": "ana.silva@gmail.com",
			"phone": "+351912345678",
			"date_of_birth": "1991-04-02",
		},
	},
	"checkpoint": "signup",
	"context": {"ip": "193.136.0.10", "device_id": "dev-1", "user_agent": "Mozilla/5.0", "session_id": "s-1"},
	"attributes": {},
	"signals": {},
	"detectors": {},
	"history": {
		"holds": [],
		"suspended": false,
		"strikes": {"count": 0, "codes": []},
		"recent": [],
		"overturned": 0,
	},
	"now": "2025-06-01T12:00:00Z",
	"occurred_at": "2025-06-01T12:00:00Z",
	"now_ns": 1748779200000000000,
	"dry_run": false,
}

# sig is a detector signal; caller_sig a caller-supplied one.
sig(s, v) := {"score": s, "value": v, "confidence": 0.9, "source": "test-detector", "evidence": {}}

caller_sig(s, v) := object.union(sig(s, v), {"source": "caller"})

# at_cp is the honest fixture at checkpoint cp with signals sigs.
at_cp(cp, sigs) := object.union(fixture_input, {"checkpoint": cp, "signals": sigs})

with_history(x, strikes, suspended) := object.union(x, {"history": {
	"suspended": suspended,
	"strikes": {"count": strikes, "codes": [c | some c in array.slice(["DEVICE_SHARED", "MODEL_RISK"], 0, strikes)]},
}})

decide(x) := d if {
	d := decision with input as x
}

# emitted is {code: action} of the decision's reasons.
emitted(x) := {r.code: r.action | some r in decide(x).reasons}

# action_of is the action a code got in the decision, "none" when it did not fire.
action_of(x, code) := object.get(emitted(x), code, "none")

# The honest baseline signals: a free email provider, IP and phone in the claimed country.
honest_signals := {
	"email.free_provider": sig(1, "gmail.com"),
	"email.disposable": sig(0, "gmail.com"),
	"geo.ip_country": sig(0, "PT"),
	"phone.country": sig(0, "PT"),
	"geo.hosting_asn": sig(0, ""),
	"model.fraud_score": sig(0.04, ""),
}

all_checkpoints := [
	"signup", "login", "profile_update", "identity_verification",
	"payout_method_change", "proposal_submit", "contract_start", "withdrawal",
]
