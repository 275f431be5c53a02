package gavel.enforcement

test_signup_velocity_bands if {
	cases := [
		[{"velocity.signups_per_ip": sig(0.4, "3")}, "none"],
		[{"velocity.signups_per_ip": sig(0.5, "6")}, "warn"],
		[{"velocity.signups_per_device": sig(0.85, "9")}, "challenge"],
		[{"velocity.signups_per_email_domain": sig(0.96, "300")}, "restrict"],
		# the strongest counter sets the band
		[{"velocity.signups_per_ip": sig(0.6, "6"), "velocity.signups_per_device": sig(0.9, "11")}, "challenge"],
	]
	every c in cases {
		got := action_of(at_cp("signup", c[0]), "SIGNUP_VELOCITY")
		print("case", c, "got", got)
		got == c[1]
	}
}

test_signup_velocity_only_at_signup if {
	every cp in all_checkpoints {
		got := action_of(at_cp(cp, {"velocity.signups_per_ip": sig(0.99, "50")}), "SIGNUP_VELOCITY")
		want := {true: "restrict", false: "none"}[cp == "signup"]
		print("checkpoint", cp, "got", got)
		got == want
	}
}

test_signup_velocity_evidence_lists_the_counters_observed if {
	x := at_cp("signup", {
		"velocity.signups_per_ip": sig(0.7, "8"),
		"velocity.signups_per_device": sig(0.1, "1"),
		"velocity.signups_per_email_domain": sig(0.6, "40"),
	})
	r := decide(x).reasons[0]
	[e.signal | some e in r.evidence] == ["velocity.signups_per_ip", "velocity.signups_per_email_domain"]
}

test_payout_change_velocity if {
	cases := [
		["payout_method_change", 0.6, "challenge"],
		["withdrawal", 0.89, "challenge"],
		["payout_method_change", 0.9, "restrict"],
		["payout_method_change", 0.3, "none"],
		["login", 0.99, "none"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"velocity.payout_changes_per_account": sig(c[1], "4")}), "PAYOUT_CHANGE_VELOCITY")
		print("case", c, "got", got)
		got == c[2]
	}
}
