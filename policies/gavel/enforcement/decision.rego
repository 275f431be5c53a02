# METADATA
# title: gavel enforcement
# description: |
#   Entry point data.gavel.enforcement.decision. Each rule in this package that
#   fires adds one reason {code, action, rule, evidence} to the partial set
#   `reasons`; the most severe action wins; the ladder (ladder.rego) escalates
#   repeat offences. Catalog texts are joined by gavel at bundle load.
package gavel.enforcement

# Actions in order of severity.
actions := ["allow", "warn", "challenge", "restrict", "suspend"]

severity := {a: i | some i, a in actions}

# The decision. Always defined, whatever the input. Members beyond the
# contract appear only when they say something: "suppressed", the reasons an
# earlier overturn cleared (standing.rego), and "review", the case the
# decision opens for a human (review.rego).
decision := object.union(verdict, object.union(suppressed_member, review_member))

default suppressed_member := {}

suppressed_member := {"suppressed": suppressed_list} if count(suppressed) > 0

verdict := {
	"action": action,
	"restrictions": restrictions,
	"reasons": ordered_reasons,
	"remedy": remedy,
	"duration": duration,
	"strike": strike,
}

# Reasons that are about gavel's own state, not the account holder's conduct:
# never a strike and never escalated by the ladder.
operational_codes := {"DETECTOR_UNAVAILABLE_FAIL_CLOSED", "SIGNALS_INCOMPLETE"}

# Reasons that count as a strike even below restrict.
strike_codes := {"DOCUMENT_REJECTED"}

# A caller-supplied signal alone never suspends: a reason whose every piece of
# evidence came from the caller is capped at restrict (a reviewer can suspend).
caller_cap := "restrict"

caller_only(r) if {
	count(r.evidence) > 0
	every e in r.evidence {
		e.source == "caller"
	}
}

effective_reasons contains r if {
	some r in live_reasons
	not r.code in list_exempt # lists.rego: allow lists exempt the reasons they name
	not capped(r)
}

effective_reasons contains object.union(r, {"action": caller_cap}) if {
	some r in live_reasons
	not r.code in list_exempt # lists.rego: allow lists exempt the reasons they name
	capped(r)
}

capped(r) if {
	severity[r.action] > severity[caller_cap]
	caller_only(r)
}

conduct_reasons contains r if {
	some r in effective_reasons
	not r.code in operational_codes
}

# The severity the account holder's conduct earns before history is considered.
base_level := max({0} | {severity[r.action] | some r in conduct_reasons})

# The conduct reasons that set base_level: they choose holds and remedies.
driving_reasons contains r if {
	some r in conduct_reasons
	severity[r.action] == base_level
}

final_reasons := (effective_reasons | ladder_reasons) | standing_reasons

level := max({0} | {severity[r.action] | some r in final_reasons})

action := actions[level]

# Most severe first, then by code.
ordered_reasons := [r | some i in numbers.range(count(actions) - 1, 0); some r in final_reasons; severity[r.action] == i]

# Holds. A restrict holds the capabilities its driving reasons name (payouts and
# withdrawals unless listed here) for hold_duration, until the remedy is done.
hold_duration := "720h"

default_holds := {"payouts", "withdrawals"}

all_capabilities := {c | some c, _ in data.gavel.catalog.capabilities}

restrict_holds := {
	"SIGNUP_VELOCITY": all_capabilities,
	"LINKED_TO_SUSPENDED_ACCOUNT": {"contracts", "payouts", "proposals", "withdrawals"},
	"MODEL_RISK": {"contracts", "payouts", "proposals", "withdrawals"},
}

# A restrict always has driving reasons: only conduct reasons (and the ladder
# escalating them) reach it.
held := union({object.get(restrict_holds, r.code, default_holds) | some r in driving_reasons})

# New holds come only from conduct that reaches restrict; a restrict that
# only re-asserts holds in force (HOLD_ACTIVE) places none and lists the
# holds in force with their own until and the decision that placed them.
default restrictions := []

restrictions := array.concat(new_holds, holds_in_force) if action == "restrict"

restrictions := [{"capability": c, "duration": ""} | some c in all_capabilities] if action == "suspend"

new_holds := [{"capability": c, "duration": hold_duration} | some c in held] if {
	conduct_level == severity.restrict
} else := []

default duration := ""

duration := hold_duration if {
	action == "restrict"
	conduct_level == severity.restrict
}

# Remedies. A challenge asks for the strongest remedy its reasons need; a
# restrict is lifted by verifying identity; allow, warn and suspend have none
# (a suspension is appealed, not remedied).
challenge_remedy := {
	"EMAIL_INVALID": "verify_email",
	"EMAIL_DISPOSABLE": "verify_phone",
	"PHONE_INVALID": "verify_phone",
	"SIGNALS_INCOMPLETE": "verify_phone",
}

remedy_rank := {"verify_email": 1, "verify_phone": 2, "verify_identity": 3}

remedy_code := "verify_identity" if {
	action == "restrict"
} else := c if {
	action == "challenge"
	wanted := {object.get(challenge_remedy, r.code, "verify_identity") |
		some r in (driving_reasons | {r | some r in effective_reasons; r.code in operational_codes})
	}
	top := max({remedy_rank[w] | some w in wanted})
	some c in wanted
	remedy_rank[c] == top
}

default remedy := null

remedy := {
	"code": remedy_code,
	"checkpoint": data.gavel.catalog.remedies[remedy_code].checkpoint,
}

# A strike when the conduct (after the ladder) reaches restrict, or a
# strike-worthy reason fired. Re-asserting an existing suspension is no strike.
default strike := false

strike if conduct_level >= severity.restrict

strike if {
	some r in conduct_reasons
	r.code in strike_codes
}
