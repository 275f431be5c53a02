package gavel.enforcement

# The household's evidence as the linkage detector reports it for a device
# shared with n accounts of the same family, long-standing, none restricted.
family(n) := {
	"examined": n, "known": n, "same_family": n, "youngest_age_days": 800,
	"restricted": 0, "suspended": 0, "family_name_unknown": false,
}

shared_device(n, hh) := {"linkage.shared_device": object.union(sig(1, format_int(n, 10)), {"evidence": {"accounts": n, "household": hh}})}

test_household_device_sharing_warns_where_money_moves if {
	every cp in ["payout_method_change", "withdrawal", "signup", "login"] {
		x := at_cp(cp, object.union(honest_signals, shared_device(2, family(2))))
		got := decide(x)
		print(cp, got.action)
		got.action == "warn"
		action_of(x, "DEVICE_SHARED") == "warn"
	}
}

test_household_evidence_is_shown if {
	x := at_cp("withdrawal", object.union(honest_signals, shared_device(1, family(1))))
	some r in decide(x).reasons
	r.code == "DEVICE_SHARED"
	r.evidence[0].household == true
}

test_not_a_household if {
	cases := [
		["someone of another family", object.union(family(2), {"same_family": 1})],
		["a new account on the device", object.union(family(2), {"youngest_age_days": 20})],
		["a restricted account on the device", object.union(family(2), {"restricted": 1})],
		["a suspended account on the device", object.union(family(2), {"suspended": 1})],
		["an account the detector knows nothing of", object.union(family(2), {"known": 1})],
		["only some accounts examined", object.union(family(2), {"examined": 1})],
	]
	every c in cases {
		got := action_of(at_cp("withdrawal", object.union(honest_signals, shared_device(2, c[1]))), "DEVICE_SHARED")
		print(c[0], got)
		got == "challenge"
	}
}

test_household_limits if {
	# too many accounts for a family laptop
	action_of(at_cp("withdrawal", shared_device(4, family(4))), "DEVICE_SHARED") == "challenge"

	# no household evidence (an older detector): as before
	action_of(at_cp("withdrawal", {"linkage.shared_device": sig(1, "1")}), "DEVICE_SHARED") == "challenge"

	# this account itself is new
	young := json.patch(at_cp("withdrawal", shared_device(1, family(1))), [{"op": "replace", "path": "/subject/age_days", "value": 10}])
	action_of(young, "DEVICE_SHARED") == "challenge"
}

test_household_sharing_a_payout_account_stays_severe if {
	sigs := object.union(shared_device(1, family(1)), {"linkage.shared_payout_account": sig(1, "1")})
	x := at_cp("withdrawal", sigs)
	action_of(x, "DEVICE_SHARED") == "challenge"
	action_of(x, "PAYOUT_ACCOUNT_SHARED") == "challenge"
}

test_household_linked_to_a_suspended_account_stays_severe if {
	sigs := object.union(shared_device(1, family(1)), {"linkage.suspended_link": object.union(sig(1, "1"), {"evidence": {"via": "device"}})})
	x := at_cp("withdrawal", sigs)
	action_of(x, "DEVICE_SHARED") == "challenge"
	decide(x).action == "suspend"
}
