package gavel.enforcement

# Standing: what the ledger already holds against the account binds this
# decision.
#
# Holds. While a hold is in force (input.history.holds lists only holds not
# expired, remedied, lifted or overturned), a checkpoint that uses the held
# capability is at least restrict, with HOLD_ACTIVE naming the decision that
# placed the hold and until when. Which checkpoint uses which capability is
# data: data.gavel.catalog.capabilities[c].checkpoints. The hold's own remedy
# checkpoint is never held, so verifying identity still lifts it. HOLD_ACTIVE
# is not conduct: no strike, no new hold, never escalated by the ladder.
#
# Clearing. When an appeal overturned a decision, the rules that fired in it
# are cleared for the subject on that evidence for a while
# (input.history.cleared). A reason with the same code and the same evidence
# does not fire again; it is listed under "suppressed" with the appeal that
# cleared it. Different evidence fires as usual.

# checkpoint_capabilities is {checkpoint: {capability}}.
checkpoint_capabilities[cp] contains c if {
	some c, cap in data.gavel.catalog.capabilities
	some cp in cap.checkpoints
}

# applicable_holds are the holds in force that this checkpoint uses.
applicable_holds contains h if {
	some h in input.history.holds
	h.capability in object.get(checkpoint_capabilities, input.checkpoint, set())
	not remedied_here(h)
}

# remedied_here holds at the checkpoint where a hold's remedy is done. A hold
# placed by hand has no remedy ("") and is remedied nowhere.
remedied_here(h) if data.gavel.catalog.remedies[h.remedy].checkpoint == input.checkpoint

standing_reasons contains {
	"code": "HOLD_ACTIVE",
	"action": "restrict",
	"rule": "standing.hold_active",
	"evidence": [hold_evidence(h)],
} if {
	some h in applicable_holds
}

hold_evidence(h) := {
	"signal": "history.holds",
	"capability": h.capability,
	"decision_id": h.decision_id,
	"since": h.since,
	"until": object.get(h, "until", ""),
	"value": h.capability,
}

holds_in_force := [{
	"capability": h.capability,
	"until": object.get(h, "until", ""),
	"decision_id": h.decision_id,
} |
	some h in applicable_holds
]

cleared := object.get(input.history, "cleared", [])

cleared_keys := {[c.code, c.evidence] | some c in cleared}

live_reasons contains r if {
	some r in reasons
	not [r.code, object.get(r, "evidence", [])] in cleared_keys
}

suppressed contains {
	"code": r.code,
	"action": r.action,
	"rule": object.get(r, "rule", ""),
	"evidence": object.get(r, "evidence", []),
	"cleared_by_appeal": c.appeal_id,
	"overturned_decision": c.decision_id,
	"until": c.until,
} if {
	some r in reasons
	some c in cleared
	c.code == r.code
	c.evidence == object.get(r, "evidence", [])
}

suppressed_list := [s | some s in suppressed]
