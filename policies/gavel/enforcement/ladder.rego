package gavel.enforcement

# The ladder: history escalates repeat offences.
#
# input.history.strikes.count is the number of unexpired, not-overturned
# strikes before this decision. A first offence keeps its action. With at least
# one prior strike a warn becomes a challenge and a challenge a restrict; with
# at least two a restrict becomes a suspend. Severe reasons (identity reuse, a
# suspended link at payout) suspend on their own. Escalation shows up as its
# own reason, REPEAT_VIOLATION, so "the most severe reason wins" still holds.
# An active suspension is re-asserted (ACCOUNT_SUSPENDED) everywhere except at
# identity_verification, where the rules decide as usual so the account holder
# can still verify; a suspension a reviewer placed by hand is re-asserted there
# too (it is lifted by a reviewer or an appeal, not by re-verifying).

default prior_strikes := 0

prior_strikes := input.history.strikes.count

conduct_level := base_level + 1 if {
	prior_strikes >= 1
	base_level in {severity.warn, severity.challenge}
} else := severity.suspend if {
	prior_strikes >= 2
	base_level == severity.restrict
} else := base_level

ladder_reasons contains {
	"code": "REPEAT_VIOLATION",
	"action": actions[conduct_level],
	"rule": "ladder.repeat_violation",
	"evidence": [{
		"signal": "history.strikes",
		"value": format_int(prior_strikes, 10),
		"from": actions[base_level],
		"codes": object.get(input.history.strikes, "codes", []),
	}],
} if {
	conduct_level > base_level
}

ladder_reasons contains {
	"code": "ACCOUNT_SUSPENDED",
	"action": "suspend",
	"rule": "ladder.account_suspended",
	"evidence": [{"signal": "history.suspended", "value": "true"}],
} if {
	input.history.suspended == true
	not verification_open
}

verification_open if {
	input.checkpoint == "identity_verification"
	not object.get(input.history, "suspension_source", "") == "manual"
}
