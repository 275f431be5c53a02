# METADATA
# description: |
#   Decision-log mask: personal data never leaves gavel in decision logs. The
#   ledger keeps the full input for reviewers and replay; the shipped log keeps
#   the checkpoint, signal scores and values, detector statuses, history, and
#   the result's action, codes, holds and remedy.
#   The input of this policy is the decision-log event ({input, result, ...}),
#   not the enforcement input, hence its own schema.
# schemas:
#   - input: {"type": "object", "properties": {"input": {"type": "object", "properties": {"signals": {"type": "object"}}}, "result": {"type": "object", "properties": {"reasons": {"type": "array"}}}}}
package system.log

# The claimed profile: names, country, email, phone, date of birth.
mask contains "/input/subject/profile"

# Where the request came from.
mask contains "/input/context/ip"

mask contains "/input/context/device_id"

mask contains "/input/context/user_agent"

# Caller attributes: document and payout details.
mask contains "/input/attributes"

# Runtime-list matches repeat the matched values (IP ranges, device ids,
# domains) and the operators' notes.
mask contains "/input/lists"

# Detector evidence may name other accounts.
mask contains sprintf("/input/signals/%s/evidence", [name]) if {
	some name, _ in input.input.signals
}

# Reason evidence repeats observed values (email domain, countries, counts).
mask contains sprintf("/result/reasons/%d/evidence", [i]) if {
	some i, _ in input.result.reasons
}
