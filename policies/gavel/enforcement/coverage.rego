package gavel.enforcement

# Coverage: how much of the picture the decision has. A detector that timed
# out, failed or was unavailable reports its status in input.detectors; its
# signals are missing. Where an account is created, several key signals
# missing at once is no free pass: under load a burst of fake signups times
# the detectors out together. A short re-check (verify a phone number) is
# asked instead of an allow.
#
# Key detectors per checkpoint; a checkpoint not listed has no coverage rule
# (login and the others fail open: see detectors.rego for the fail-closed
# ones). A detector absent from input.detectors did not run for this
# checkpoint (not configured for it) and is neither key nor missing.
coverage_key_detectors := {"signup": {"email", "geo", "phone", "velocity", "linkage", "model"}}

# More than this many key detectors missing is a challenge.
coverage_max_missing := 1

key_detectors contains name if {
	some name in object.get(coverage_key_detectors, input.checkpoint, set())
	input.detectors[name]
}

missing_key_detectors contains name if {
	some name in key_detectors
	input.detectors[name].status in failed_statuses
}

# coverage is the share of the key detectors that answered (1 without any).
default coverage := 1

coverage := (count(key_detectors) - count(missing_key_detectors)) / count(key_detectors) if {
	count(key_detectors) > 0
}

# SIGNALS_INCOMPLETE: operational, like DETECTOR_UNAVAILABLE_FAIL_CLOSED:
# never a strike and never escalated by the ladder.
reasons contains {
	"code": "SIGNALS_INCOMPLETE",
	"action": "challenge",
	"rule": "coverage.signals_incomplete",
	"evidence": [{
		"coverage": round(coverage * 100) / 100,
		"missing": sort([sprintf("%s:%s", [n, input.detectors[n].status]) | some n in missing_key_detectors]),
	}],
} if {
	count(missing_key_detectors) > coverage_max_missing
}
