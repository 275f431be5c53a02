package gavel.enforcement

list_hit(purpose, action, exempts) := {
	"list": sprintf("%s-list", [purpose]),
	"kind": "ip",
	"purpose": purpose,
	"field": "context.ip",
	"action": action,
	"exempts": exempts,
	"entry": "203.0.113.0/24",
	"note": "abuse range",
}

with_lists(x, hits) := object.union(x, {"lists": hits})

test_block_list_acts_with_its_action if {
	cases := [
		["signup", "warn", "warn"],
		["login", "challenge", "challenge"],
		["withdrawal", "restrict", "restrict"],
		["signup", "suspend", "suspend"],
		["identity_verification", "suspend", "suspend"],
	]
	every c in cases {
		got := decide(with_lists(at_cp(c[0], {}), [list_hit("block", c[1], [])]))
		print("case", c, "got", got.action)
		got.action == c[2]
		action_of(with_lists(at_cp(c[0], {}), [list_hit("block", c[1], [])]), "LIST_BLOCK") == c[2]
	}
}

test_block_list_is_not_capped_like_caller_signals if {
	# A caller-supplied signal alone is capped at restrict; a list is the
	# operator's and may suspend.
	d := decide(with_lists(at_cp("signup", {}), [list_hit("block", "suspend", [])]))
	d.action == "suspend"
	d.strike == true
	some r in d.reasons
	r.code == "LIST_BLOCK"
	r.evidence[0].source == "list"
	r.evidence[0].list == "block-list"
	r.evidence[0].note == "abuse range"
}

test_strongest_block_hit_wins if {
	hits := [list_hit("block", "warn", []), object.union(list_hit("block", "restrict", []), {"list": "other"})]
	d := decide(with_lists(at_cp("login", {}), hits))
	emitted(with_lists(at_cp("login", {}), hits)) == {"LIST_BLOCK": "restrict"}
	count([r | some r in d.reasons; r.code == "LIST_BLOCK"][0].evidence) == 2
}

test_block_hit_without_a_known_action_does_nothing if {
	emitted(with_lists(at_cp("signup", {}), [list_hit("block", "", [])])) == {}
	emitted(with_lists(at_cp("signup", {}), [list_hit("block", "allow", [])])) == {}
}

test_no_lists_no_reason if {
	action_of(at_cp("signup", {}), "LIST_BLOCK") == "none"
	action_of(with_lists(at_cp("signup", {}), []), "LIST_BLOCK") == "none"
}

test_allow_list_exempts_the_rules_it_names if {
	sigs := {"linkage.shared_device": sig(1, "12")}
	x := at_cp("withdrawal", sigs)

	# Without the list the shared device restricts at withdrawal.
	action_of(x, "DEVICE_SHARED") == "restrict"
	decide(x).action == "restrict"

	trusted := with_lists(x, [list_hit("allow", "", ["DEVICE_SHARED"])])
	action_of(trusted, "DEVICE_SHARED") == "none"
	decide(trusted).action == "allow"
	decide(trusted).strike == false
}

test_allow_list_exempts_only_what_it_names if {
	sigs := {"linkage.shared_device": sig(1, "12"), "model.fraud_score": sig(0.95, "")}
	x := with_lists(at_cp("withdrawal", sigs), [list_hit("allow", "", ["DEVICE_SHARED"])])
	action_of(x, "DEVICE_SHARED") == "none"
	action_of(x, "MODEL_RISK") != "none"
}

test_allow_list_can_exempt_a_block_list if {
	hits := [list_hit("block", "suspend", []), list_hit("allow", "", ["LIST_BLOCK"])]
	decide(with_lists(at_cp("signup", {}), hits)).action == "allow"
}

test_allow_list_never_exempts_history_or_operational_reasons if {
	x := with_lists(with_history(at_cp("login", {}), 0, true), [list_hit("allow", "", ["ACCOUNT_SUSPENDED"])])
	decide(x).action == "suspend"
	dets := {"linkage": {"status": "timeout", "version": "", "latency_ms": 0}}
	y := object.union(at_cp("withdrawal", {}), {"detectors": dets})
	before := emitted(y)
	emitted(with_lists(y, [list_hit("allow", "", ["DETECTOR_UNAVAILABLE_FAIL_CLOSED"])])) == before
}
