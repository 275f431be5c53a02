package gavel.enforcement

ok_det := {"status": "ok", "version": "1.0.0", "latency_ms": 3}

signup_detectors(failed, status) := {name: d |
	some name in ["email", "geo", "phone", "velocity", "linkage", "model"]
	d := object.get({n: {"status": status, "version": "", "latency_ms": 150} | some n in failed}, name, ok_det)
}

test_signup_missing_several_key_signals_is_a_short_recheck if {
	cases := [
		[[], "allow"],
		[["model"], "allow"],
		[["email", "velocity"], "challenge"],
		[["email", "geo", "velocity", "linkage", "model"], "challenge"],
	]
	every c in cases {
		x := object.union(at_cp("signup", honest_signals), {"detectors": signup_detectors(c[0], "timeout")})
		got := decide(x)
		print("case", c, "got", got.action)
		got.action == c[1]
	}
}

test_signals_incomplete_is_operational if {
	x := object.union(at_cp("signup", honest_signals), {"detectors": signup_detectors(["geo", "model", "velocity"], "unavailable")})
	got := decide(with_history(x, 2, false))
	got.action == "challenge"
	got.strike == false
	got.remedy.code == "verify_phone"
	got.reasons == [{
		"code": "SIGNALS_INCOMPLETE",
		"action": "challenge",
		"rule": "coverage.signals_incomplete",
		"evidence": [{"coverage": 0.5, "missing": ["geo:unavailable", "model:unavailable", "velocity:unavailable"]}],
	}]
}

test_coverage_counts_only_detectors_that_ran if {
	# two key detectors configured, both failed: challenge
	x := object.union(at_cp("signup", {}), {"detectors": {"email": detector("timeout"), "geo": detector("error")}})
	decide(x).action == "challenge"
	coverage == 0 with input as x

	# nothing configured: nothing missing
	coverage == 1 with input as at_cp("signup", {})
	decide(at_cp("signup", {})).action == "allow"
}

test_coverage_fails_open_elsewhere if {
	every cp in ["login", "proposal_submit", "profile_update"] {
		x := object.union(at_cp(cp, honest_signals), {"detectors": signup_detectors(["email", "geo", "velocity", "linkage", "model"], "timeout")})
		action_of(x, "SIGNALS_INCOMPLETE") == "none"
	}
}
