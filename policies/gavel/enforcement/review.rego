# The review queue: which decisions a human should look at. A reason the
# catalog marks `review: true` (data.gavel.catalog.reasons[code]) sends a challenge or a
# restrict that carries it to the review queue: the decision gets a
# "review" member {codes, sla}, gavel opens a case in the same ledger
# transaction, due `sla` after the decision. The SLA is the tightest
# `review_sla` among the codes. A suspend is not queued (it is already the
# most severe action and is appealed), nor an allow or a warn.
package gavel.enforcement

review_actions := {"challenge", "restrict"}

# The SLA of a reason marked for review without one of its own.
default_review_sla := "24h"

review_sla_of(code) := object.get(data.gavel.catalog.reasons[code], "review_sla", default_review_sla)

review_codes contains r.code if {
	action in review_actions
	some r in final_reasons
	data.gavel.catalog.reasons[r.code].review == true
}

review_sla_ns := min({time.parse_duration_ns(review_sla_of(c)) | some c in review_codes})

# The tightest SLA, as the catalog spells it (the smallest spelling when two
# spell the same duration differently).
review_sla := min({s |
	some c in review_codes
	s := review_sla_of(c)
	time.parse_duration_ns(s) == review_sla_ns
})

default review_member := {}

review_member := {"review": {"codes": sort(review_codes), "sla": review_sla}} if count(review_codes) > 0
