package gavel.enforcement

# Failed detectors. A detector that timed out, failed or is unavailable reports
# its status in input.detectors.<name>.status; its signals are simply missing.
#
# Fail closed where a missing check would let money or an identity through:
# at payout_method_change and withdrawal when the linkage or document detector
# failed, and at identity_verification when the document detector failed.
# Everywhere else fail open: no reason is added (the statuses are recorded
# with the decision for reviewers), so an outage never adds friction at
# signup or login. A detector absent from input.detectors did not run for this
# checkpoint (not configured for it) and is not a failure.

failed_statuses := {"timeout", "error", "unavailable"}

fail_closed_detectors := {
	"payout_method_change": {"linkage", "document"},
	"withdrawal": {"linkage", "document"},
	"identity_verification": {"document"},
}

failed_detectors contains name if {
	some name in fail_closed_detectors[input.checkpoint]
	input.detectors[name].status in failed_statuses
}

# DETECTOR_UNAVAILABLE_FAIL_CLOSED: operational, never a strike and never
# escalated by the ladder.
reasons contains {
	"code": "DETECTOR_UNAVAILABLE_FAIL_CLOSED",
	"action": "challenge",
	"rule": "detectors.fail_closed",
	"evidence": [{"detector": name, "status": input.detectors[name].status} | some name in failed_detectors],
} if {
	count(failed_detectors) > 0
}
