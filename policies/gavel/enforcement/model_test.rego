package gavel.enforcement

test_model_score_bands if {
	cases := [
		["signup", 0.49, "none"],
		["signup", 0.5, "warn"],
		["login", 0.69, "warn"],
		["login", 0.7, "challenge"],
		["proposal_submit", 0.89, "challenge"],
		["proposal_submit", 0.9, "restrict"],
		["withdrawal", 0.99, "restrict"],
		["signup", 0.9, "suspend"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"model.fraud_score": sig(c[1], "")}), "MODEL_RISK")
		print("case", c, "got", got)
		got == c[2]
	}
}
