package gavel.enforcement

detector(status) := {"status": status, "version": "1.2.0", "latency_ms": 250}

with_detectors(cp, dets) := object.union(at_cp(cp, honest_signals), {"detectors": dets})

test_failed_detectors_fail_closed_where_money_or_identity_moves if {
	cases := [
		["payout_method_change", {"linkage": detector("timeout")}, "challenge"],
		["withdrawal", {"document": detector("error")}, "challenge"],
		["withdrawal", {"linkage": detector("unavailable"), "document": detector("ok")}, "challenge"],
		["identity_verification", {"document": detector("timeout")}, "challenge"],
		# fail open at signup and login, and for detectors the rule does not name
		["signup", {"linkage": detector("timeout"), "document": detector("error")}, "allow"],
		["login", {"linkage": detector("unavailable")}, "allow"],
		["identity_verification", {"linkage": detector("timeout")}, "allow"],
		["withdrawal", {"email": detector("timeout"), "model": detector("error")}, "allow"],
		["withdrawal", {"linkage": detector("ok"), "document": detector("ok")}, "allow"],
		# a detector that did not run for the checkpoint is no failure
		["withdrawal", {}, "allow"],
	]
	every c in cases {
		got := decide(with_detectors(c[0], c[1]))
		print("case", c, "got", got)
		got.action == c[2]
	}
}

test_fail_closed_reason_is_operational if {
	x := with_detectors("withdrawal", {"linkage": detector("timeout"), "document": detector("error")})
	got := decide(with_history(x, 2, false))
	got.action == "challenge"
	got.strike == false
	got.remedy.code == "verify_identity"
	got.reasons == [{
		"code": "DETECTOR_UNAVAILABLE_FAIL_CLOSED",
		"action": "challenge",
		"rule": "detectors.fail_closed",
		"evidence": [
			{"detector": "document", "status": "error"},
			{"detector": "linkage", "status": "timeout"},
		],
	}]
}
