package gavel.enforcement

# Signal access helpers and checkpoint groups shared by the rule files.
# input.signals is keyed by signal name; each entry is
# {score, value, confidence, source, evidence} (see policies/input.schema.json).

# Signals at or above this score are treated as observed ("the detector says yes").
fired_at := 0.5

# score(name) is the named signal's score, 0 when the signal is absent.
default score(_) := 0

score(name) := input.signals[name].score

# fired(name) holds when the named signal was observed.
fired(name) if input.signals[name].score >= fired_at

# value(name) is the named signal's value, "" when absent.
default value(_) := ""

value(name) := input.signals[name].value

# evidence(name) is one evidence item for a reason: what was observed and who said so.
evidence(name) := {
	"signal": name,
	"score": s.score,
	"value": s.value,
	"source": s.source,
} if {
	s := input.signals[name]
}

# present_evidence(names) is the evidence of those of names that were observed.
present_evidence(names) := [evidence(n) | some n in names; fired(n)]

# accounts(name) is the number of other accounts a linkage signal reports: its
# value when that is a count, otherwise 1 for an observed signal.
accounts(name) := to_number(v) if {
	fired(name)
	v := input.signals[name].value
	regex.match(`^[0-9]{1,9}$`, v)
} else := 1 if {
	fired(name)
}

# Checkpoint groups. Checkpoints are configurable; one not listed here gets each
# rule's "elsewhere" action.
money_checkpoints := {"payout_method_change", "withdrawal"}

at_money if input.checkpoint in money_checkpoints

# at(table, otherwise) is the action a per-checkpoint table gives the current
# checkpoint, or otherwise when the table does not list it.
at(table, otherwise) := object.get(table, input.checkpoint, otherwise)
