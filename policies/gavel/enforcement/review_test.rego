package gavel.enforcement

# A reason marked for review sends a challenge or a restrict to the queue, with
# the catalog's SLA; the tightest SLA wins when several are marked.

test_review_restrict_opens_a_case if {
	got := decide(at_cp("withdrawal", {"model.fraud_score": sig(0.95, "")}))
	got.action == "restrict"
	got.review == {"codes": ["MODEL_RISK"], "sla": "24h"}
}

test_review_challenge_opens_a_case if {
	got := decide(at_cp("login", {"model.fraud_score": sig(0.8, "")}))
	got.action == "challenge"
	got.review == {"codes": ["MODEL_RISK"], "sla": "24h"}
}

test_review_not_for_other_actions if {
	some case in [
		["signup", sig(0.95, ""), "suspend"],
		["login", sig(0.6, ""), "warn"],
		["login", sig(0.1, ""), "allow"],
	]
	got := decide(at_cp(case[0], {"model.fraud_score": case[1]}))
	got.action == case[2]
	not got.review
}

test_review_not_for_unmarked_reasons if {
	got := decide(at_cp("signup", {"email.disposable": sig(1, "mailinator.com")}))
	got.action == "challenge"
	not got.review
}

test_review_tightest_sla_wins if {
	got := decide(at_cp("withdrawal", {
		"model.fraud_score": sig(0.95, ""),
		"payout.holder_mismatch": sig(0.9, ""),
	})) with data.gavel.catalog.reasons.MODEL_RISK.review_sla as "2h"
		with data.gavel.catalog.reasons.PAYOUT_HOLDER_MISMATCH.review_sla as "120m"
	got.review.sla == "120m"
}

test_review_codes_of_every_marked_reason if {
	got := decide(at_cp("login", {"model.fraud_score": sig(0.8, ""), "linkage.suspended_link": sig(1, "1")}))
		with data.gavel.catalog.reasons.LINKED_TO_SUSPENDED_ACCOUNT.review_sla as "12h"
	got.action in review_actions
	got.review.codes == ["LINKED_TO_SUSPENDED_ACCOUNT", "MODEL_RISK"]
	got.review.sla == "12h"
}

test_review_default_sla if {
	got := decide(at_cp("login", {"model.fraud_score": sig(0.8, "")})) with data.gavel.catalog.reasons.MODEL_RISK as {
		"title": "t", "message": "m", "appealable": true, "review": true,
	}
	got.review == {"codes": ["MODEL_RISK"], "sla": default_review_sla}
}

test_review_only_when_marked_true if {
	got := decide(at_cp("login", {"model.fraud_score": sig(0.8, "")}))
		with data.gavel.catalog.reasons.MODEL_RISK.review as false
	not got.review
}
