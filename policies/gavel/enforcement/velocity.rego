package gavel.enforcement

# Velocity rules: too many signups from one place, too many payout changes.

signup_velocity_signals := [
	"velocity.signups_per_ip",
	"velocity.signups_per_device",
	"velocity.signups_per_email_domain",
]

signup_velocity := max([score(n) | some n in signup_velocity_signals])

# SIGNUP_VELOCITY: bands over the strongest of the three signup counters.
reasons contains {
	"code": "SIGNUP_VELOCITY",
	"action": signup_velocity_action,
	"rule": "velocity.signups",
	"evidence": present_evidence(signup_velocity_signals),
} if {
	input.checkpoint == "signup"
	signup_velocity >= 0.5
}

signup_velocity_action := "restrict" if {
	signup_velocity >= 0.95
} else := "challenge" if {
	signup_velocity >= 0.8
} else := "warn"

# PAYOUT_CHANGE_VELOCITY: payout details changed unusually often (a takeover pattern).
reasons contains {
	"code": "PAYOUT_CHANGE_VELOCITY",
	"action": payout_velocity_action,
	"rule": "velocity.payout_changes",
	"evidence": [evidence("velocity.payout_changes_per_account")],
} if {
	at_money
	fired("velocity.payout_changes_per_account")
}

payout_velocity_action := "restrict" if {
	score("velocity.payout_changes_per_account") >= 0.9
} else := "challenge"
