package gavel.enforcement

# Standing: holds in force bind later checkpoints; overturns clear rules on
# their evidence.

withdrawal_hold := {
	"capability": "withdrawals",
	"since": "2025-05-30T12:00:00Z",
	"until": "2025-06-29T12:00:00Z",
	"decision_id": "dec-hold-1",
	"remedy": "verify_identity",
}

with_holds(x, holds) := object.union(x, {"history": {"holds": holds}})

test_hold_in_force_restricts_checkpoint_using_it if {
	got := decide(with_holds(at_cp("withdrawal", honest_signals), [withdrawal_hold]))
	got.action == "restrict"
	got.reasons == [{
		"code": "HOLD_ACTIVE",
		"action": "restrict",
		"rule": "standing.hold_active",
		"evidence": [{
			"signal": "history.holds",
			"capability": "withdrawals",
			"decision_id": "dec-hold-1",
			"since": "2025-05-30T12:00:00Z",
			"until": "2025-06-29T12:00:00Z",
			"value": "withdrawals",
		}],
	}]
	got.restrictions == [{"capability": "withdrawals", "until": "2025-06-29T12:00:00Z", "decision_id": "dec-hold-1"}]
	got.remedy == {"code": "verify_identity", "checkpoint": "identity_verification"}
}

test_hold_active_is_no_strike_and_no_new_hold if {
	got := decide(with_history(with_holds(at_cp("withdrawal", honest_signals), [withdrawal_hold]), 1, false))
	got.action == "restrict"
	got.strike == false
	got.duration == ""
	every r in got.restrictions {
		r.decision_id == "dec-hold-1"
	}
	not "REPEAT_VIOLATION" in {r.code | some r in got.reasons}
}

test_hold_without_remedy_binds if {
	# a hold a reviewer placed by hand has no remedy: it binds everywhere it applies
	manual := object.union(withdrawal_hold, {"remedy": ""})
	got := decide(with_holds(at_cp("withdrawal", honest_signals), [manual]))
	got.action == "restrict"
	[r.code | some r in got.reasons] == ["HOLD_ACTIVE"]
}

test_hold_on_other_capability_does_not_bind if {
	payouts_hold := object.union(withdrawal_hold, {"capability": "payouts"})
	decide(with_holds(at_cp("withdrawal", honest_signals), [payouts_hold])) == allow_decision
	decide(with_holds(at_cp("proposal_submit", honest_signals), [withdrawal_hold])) == allow_decision
}

test_checkpoint_capability_mapping_is_catalog_data if {
	checkpoint_capabilities.withdrawal == {"withdrawals"}
	checkpoint_capabilities.payout_method_change == {"payouts"}
	checkpoint_capabilities.proposal_submit == {"proposals"}
	checkpoint_capabilities.contract_start == {"contracts"}
	decide(with_holds(at_cp("withdrawal", honest_signals), [withdrawal_hold])) with data.gavel.catalog.capabilities as {"withdrawals": {"label": "x", "checkpoints": []}} == allow_decision
}

test_hold_remedy_checkpoint_still_works if {
	# identity verification is how the hold is lifted: it is never held, even
	# when the data maps it to the held capability.
	caps := {"withdrawals": {"label": "x", "checkpoints": ["withdrawal", "identity_verification"]}}
	got := decide(with_holds(at_cp("identity_verification", honest_signals), [withdrawal_hold])) with data.gavel.catalog.capabilities as caps
	got == allow_decision
}

test_no_holds_in_history_means_no_hold_reason if {
	# expired, remedied, lifted or overturned holds are not in history.holds
	decide(with_holds(at_cp("withdrawal", honest_signals), [])) == allow_decision
}

test_hold_joins_conduct_reasons if {
	got := decide(with_holds(at_cp("withdrawal", {"email.disposable": sig(1, "mailinator.com")}), [withdrawal_hold]))
	got.action == "restrict"
	{r.code | some r in got.reasons} == {"HOLD_ACTIVE", "EMAIL_DISPOSABLE"}

	# the conduct places its own new holds beside the one in force
	{"capability": "withdrawals", "duration": "720h"} in got.restrictions
	{"capability": "withdrawals", "until": "2025-06-29T12:00:00Z", "decision_id": "dec-hold-1"} in got.restrictions
	got.strike == true
}

test_open_ended_hold_has_empty_until if {
	h := object.remove(withdrawal_hold, ["until"])
	got := decide(with_holds(at_cp("withdrawal", honest_signals), [h]))
	got.restrictions == [{"capability": "withdrawals", "until": "", "decision_id": "dec-hold-1"}]
}

test_manual_suspension_binds_identity_verification if {
	x := object.union(at_cp("identity_verification", honest_signals), {"history": {"suspended": true, "suspension_source": "manual"}})
	decide(x).action == "suspend"
	y := object.union(at_cp("identity_verification", honest_signals), {"history": {"suspended": true, "suspension_source": "policy"}})
	decide(y) == allow_decision
}

# Clearing.

model_evidence := [{"signal": "model.fraud_score", "score": 0.95, "value": "", "source": "test-detector"}]

cleared_model := {
	"code": "MODEL_RISK",
	"rule": "model.fraud_score",
	"evidence": model_evidence,
	"until": "2025-07-01T00:00:00Z",
	"appeal_id": "apl-1",
	"decision_id": "dec-1",
}

with_cleared(x, cleared) := object.union(x, {"history": {"cleared": cleared}})

model_input(score) := at_cp("payout_method_change", object.union(honest_signals, {"model.fraud_score": sig(score, "")}))

test_cleared_rule_same_evidence_does_not_fire if {
	base := decide(model_input(0.95))
	base.action == "restrict"
	[r.evidence | some r in base.reasons; r.code == "MODEL_RISK"] == [model_evidence]

	got := decide(with_cleared(model_input(0.95), [cleared_model]))
	got.action == "allow"
	got.strike == false
	got.suppressed == [{
		"code": "MODEL_RISK",
		"action": "restrict",
		"rule": "model.fraud_score",
		"evidence": model_evidence,
		"cleared_by_appeal": "apl-1",
		"overturned_decision": "dec-1",
		"until": "2025-07-01T00:00:00Z",
	}]
}

test_cleared_rule_new_evidence_fires if {
	got := decide(with_cleared(model_input(0.97), [cleared_model]))
	got.action == "restrict"
	"MODEL_RISK" in {r.code | some r in got.reasons}
	not got.suppressed
}

test_clearing_is_per_code if {
	other := object.union(cleared_model, {"code": "DEVICE_SHARED"})
	decide(with_cleared(model_input(0.95), [other])).action == "restrict"
}

test_duplicate_clearances_do_not_conflict if {
	again := object.union(cleared_model, {"appeal_id": "apl-2", "decision_id": "dec-2"})
	got := decide(with_cleared(model_input(0.95), [cleared_model, again]))
	got.action == "allow"
	count(got.suppressed) == 2
}
