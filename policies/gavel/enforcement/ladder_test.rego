package gavel.enforcement

# One conduct reason per base action, at checkpoints where no other rule fires.
ladder_base := {
	"allow": at_cp("signup", honest_signals),
	"warn": at_cp("signup", {"geo.hosting_asn": sig(1, "AS16509")}),
	"challenge": at_cp("signup", {"email.disposable": sig(1, "mailinator.com")}),
	"restrict": at_cp("withdrawal", {"linkage.shared_payout_account": sig(1, "4")}),
	"suspend": at_cp("signup", {"linkage.shared_document": sig(1, "1")}),
}

test_ladder if {
	cases := [
		# [base action, prior strikes, final action, strike]
		["allow", 0, "allow", false],
		["allow", 3, "allow", false],
		# a first offence keeps its action
		["warn", 0, "warn", false],
		["challenge", 0, "challenge", false],
		["restrict", 0, "restrict", true],
		["suspend", 0, "suspend", true],
		# one prior strike: warn -> challenge, challenge -> restrict
		["warn", 1, "challenge", false],
		["challenge", 1, "restrict", true],
		["restrict", 1, "restrict", true],
		# two or more: restrict -> suspend as well; one step at a time
		["warn", 2, "challenge", false],
		["challenge", 2, "restrict", true],
		["restrict", 2, "suspend", true],
		["restrict", 5, "suspend", true],
		["suspend", 2, "suspend", true],
	]
	every c in cases {
		got := decide(with_history(ladder_base[c[0]], c[1], false))
		print("case", c, "got", got.action, got.strike, [r.code | some r in got.reasons])
		got.action == c[2]
		got.strike == c[3]
		escalated := count([r | some r in got.reasons; r.code == "REPEAT_VIOLATION"]) == 1
		escalated == c[0] != c[2]
	}
}

test_ladder_reason_explains_the_escalation if {
	got := decide(with_history(ladder_base.restrict, 2, false))
	got.reasons[0] == {
		"code": "REPEAT_VIOLATION",
		"action": "suspend",
		"rule": "ladder.repeat_violation",
		"evidence": [{"signal": "history.strikes", "value": "2", "from": "restrict", "codes": ["DEVICE_SHARED", "MODEL_RISK"]}],
	}
	got.reasons[1].code == "PAYOUT_ACCOUNT_SHARED"
	got.restrictions[0] == {"capability": "contracts", "duration": ""}
	got.remedy == null
}

test_ladder_escalated_challenge_holds_and_remedy if {
	got := decide(with_history(ladder_base.challenge, 1, false))
	got.action == "restrict"
	got.restrictions == [{"capability": "payouts", "duration": "720h"}, {"capability": "withdrawals", "duration": "720h"}]
	got.remedy.code == "verify_identity"
	got.duration == "720h"
}

test_ladder_escalated_warn_picks_the_reasons_remedy if {
	# a disposable email at login warns; with a prior strike it is a challenge
	# that asks for what that reason needs (a phone), not a full identity check
	x := at_cp("login", {"email.disposable": sig(1, "mailinator.com")})
	decide(x).action == "warn"
	got := decide(with_history(x, 1, false))
	got.action == "challenge"
	got.remedy.code == "verify_phone"
}

test_active_suspension_is_kept if {
	every cp in all_checkpoints {
		got := decide(with_history(at_cp(cp, honest_signals), 0, true))
		want := {true: "allow", false: "suspend"}[cp == "identity_verification"]
		print("checkpoint", cp, "got", got)
		got.action == want
		got.strike == false
	}
	got := decide(with_history(at_cp("login", honest_signals), 1, true))
	got.reasons == [{
		"code": "ACCOUNT_SUSPENDED",
		"action": "suspend",
		"rule": "ladder.account_suspended",
		"evidence": [{"signal": "history.suspended", "value": "true"}],
	}]
}

test_suspended_account_at_identity_verification_decided_by_the_rules if {
	x := object.union(at_cp("identity_verification", {"document.vendor_rejected": sig(1, "")}), {})
	got := decide(with_history(x, 0, true))
	got.action == "challenge"
	[r.code | some r in got.reasons] == ["DOCUMENT_REJECTED"]
}

test_new_conduct_while_suspended_is_a_strike if {
	got := decide(with_history(ladder_base.restrict, 0, true))
	got.action == "suspend"
	got.strike == true
	[r.code | some r in got.reasons] == ["ACCOUNT_SUSPENDED", "PAYOUT_ACCOUNT_SHARED"]
}

test_second_document_rejection_escalates if {
	x := at_cp("identity_verification", {"document.vendor_rejected": sig(1, "")})
	got := decide(object.union(x, {"history": {"strikes": {"count": 1, "codes": ["DOCUMENT_REJECTED"]}}}))
	got.action == "restrict"
	got.strike == true
}

test_ladder_tolerates_missing_history if {
	x := json.remove(ladder_base.challenge, ["history"])
	decide(x).action == "challenge"
}
