package gavel.enforcement

allow_decision := {
	"action": "allow",
	"restrictions": [],
	"reasons": [],
	"remedy": null,
	"duration": "",
	"strike": false,
}

test_decision_defined_for_empty_input if {
	decide({}) == allow_decision
}

test_honest_user_allowed_at_every_checkpoint if {
	every cp in all_checkpoints {
		got := decide(at_cp(cp, honest_signals))
		print("checkpoint", cp, "got", got)
		got == allow_decision
	}
}

test_honest_user_with_healthy_detectors_allowed if {
	x := object.union(at_cp("withdrawal", honest_signals), {"detectors": {
		"linkage": {"status": "ok", "version": "1.0.0", "latency_ms": 3.2},
		"document": {"status": "ok", "version": "1.0.0", "latency_ms": 5.1},
	}})
	decide(x) == allow_decision
}

test_challenge_decision_shape if {
	got := decide(at_cp("signup", {"email.disposable": sig(1, "mailinator.com")}))
	got == {
		"action": "challenge",
		"restrictions": [],
		"reasons": [{
			"code": "EMAIL_DISPOSABLE",
			"action": "challenge",
			"rule": "identity.email_disposable",
			"evidence": [{"signal": "email.disposable", "score": 1, "value": "mailinator.com", "source": "test-detector"}],
		}],
		"remedy": {"code": "verify_phone", "checkpoint": "phone_verification"},
		"duration": "",
		"strike": false,
	}
}

test_restrict_decision_shape if {
	got := decide(at_cp("withdrawal", {"email.disposable": sig(1, "mailinator.com")}))
	got.action == "restrict"
	got.restrictions == [
		{"capability": "payouts", "duration": "720h"},
		{"capability": "withdrawals", "duration": "720h"},
	]
	got.remedy == {"code": "verify_identity", "checkpoint": "identity_verification"}
	got.duration == "720h"
	got.strike == true
}

test_suspend_decision_shape if {
	got := decide(at_cp("signup", {"linkage.shared_document": sig(1, "")}))
	got.action == "suspend"
	got.restrictions == [
		{"capability": "contracts", "duration": ""},
		{"capability": "messaging", "duration": ""},
		{"capability": "payouts", "duration": ""},
		{"capability": "proposals", "duration": ""},
		{"capability": "withdrawals", "duration": ""},
	]
	got.remedy == null
	got.duration == ""
	got.strike == true
	[r.code | some r in got.reasons] == ["DOCUMENT_REUSED"]
}

test_warn_decision_has_no_remedy_or_strike if {
	got := decide(at_cp("signup", {"geo.hosting_asn": sig(1, "AS16509")}))
	got.action == "warn"
	got.remedy == null
	got.restrictions == []
	got.strike == false
}

test_most_severe_reason_wins_and_reasons_are_ordered if {
	got := decide(at_cp("payout_method_change", {
		"geo.hosting_asn": sig(1, "AS16509"),
		"phone.voip": sig(1, ""),
		"linkage.shared_payout_account": sig(1, "4"),
	}))
	got.action == "restrict"
	[[r.action, r.code] | some r in got.reasons] == [
		["restrict", "PAYOUT_ACCOUNT_SHARED"],
		["challenge", "PHONE_VOIP"],
		["warn", "HOSTING_NETWORK"],
	]
}

test_challenge_remedy_is_the_strongest_needed if {
	cases := [
		{"sigs": {"email.invalid": sig(1, "")}, "want": "verify_email"},
		{"sigs": {"phone.invalid": sig(1, "")}, "want": "verify_phone"},
		{"sigs": {"email.invalid": sig(1, ""), "phone.invalid": sig(1, "")}, "want": "verify_phone"},
		{"sigs": {"email.invalid": sig(1, ""), "model.fraud_score": sig(0.8, "")}, "want": "verify_identity"},
	]
	every c in cases {
		got := decide(at_cp("signup", c.sigs))
		print("case", c, "got", got.remedy)
		got.action == "challenge"
		got.remedy.code == c.want
		got.remedy.checkpoint == data.gavel.catalog.remedies[c.want].checkpoint
	}
}

test_restrict_holds_follow_the_driving_reasons if {
	cases := [
		{"cp": "signup", "sigs": {"velocity.signups_per_ip": sig(0.99, "41")}, "want": ["contracts", "messaging", "payouts", "proposals", "withdrawals"]},
		{"cp": "login", "sigs": {"model.fraud_score": sig(0.95, "")}, "want": ["contracts", "payouts", "proposals", "withdrawals"]},
		{"cp": "withdrawal", "sigs": {"linkage.shared_payout_account": sig(1, "3")}, "want": ["payouts", "withdrawals"]},
		# a warn and a restrict: only the restrict's holds
		{"cp": "withdrawal", "sigs": {"linkage.shared_payout_account": sig(1, "3"), "geo.hosting_asn": sig(1, "")}, "want": ["payouts", "withdrawals"]},
	]
	every c in cases {
		got := decide(at_cp(c.cp, c.sigs))
		print("case", c, "got", got.restrictions)
		got.action == "restrict"
		[r.capability | some r in got.restrictions] == c.want
		every r in got.restrictions {
			r.duration == "720h"
		}
	}
}

test_caller_only_evidence_never_suspends if {
	cases := [
		{"cp": "signup", "sigs": {"linkage.shared_document": caller_sig(1, "")}, "want": "restrict"},
		{"cp": "signup", "sigs": {"model.fraud_score": caller_sig(0.95, "")}, "want": "restrict"},
		{"cp": "withdrawal", "sigs": {"linkage.suspended_link": caller_sig(1, "")}, "want": "restrict"},
		# the same from a detector suspends
		{"cp": "signup", "sigs": {"linkage.shared_document": sig(1, "")}, "want": "suspend"},
		# caller signals below the cap are taken as they are
		{"cp": "signup", "sigs": {"email.disposable": caller_sig(1, "mailinator.com")}, "want": "challenge"},
	]
	every c in cases {
		got := decide(at_cp(c.cp, c.sigs))
		print("case", c, "got", got.action)
		got.action == c.want
	}
}

test_signals_below_threshold_are_ignored if {
	got := decide(at_cp("withdrawal", {
		"email.disposable": sig(0.49, "example.org"),
		"linkage.shared_document": sig(0.2, ""),
		"linkage.suspended_link": sig(0.1, ""),
		"phone.voip": sig(0.3, ""),
		"model.fraud_score": sig(0.49, ""),
	}))
	got == allow_decision
}
