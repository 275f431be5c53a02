package gavel.enforcement

# A payout step of the honest fixture (a Portuguese account, 457 days old).
payout_at(cp, details, sigs) := object.union(at_cp(cp, object.union(honest_signals, sigs)), {"attributes": {"payout": details}})

pt_bank := {"method": "bank_transfer", "account_hash": "h-1", "country": "PT", "holder_name": "Ana Silva"}

test_payout_country_mismatch if {
	cases := [
		# alone: a bank account at home while living elsewhere
		["withdrawal", {"country": "BR"}, {}, "warn"],
		["payout_method_change", {"country": "br"}, {}, "warn"],
		# with the IP or the phone also elsewhere
		["payout_method_change", {"country": "NG"}, {"geo.ip_country": sig(0, "NG")}, "challenge"],
		["withdrawal", {"country": "NG"}, {"phone.country_mismatch": sig(1, "NG")}, "challenge"],
		# the claimed country, any case
		["withdrawal", {"country": "pt"}, {}, "none"],
		# not where money moves
		["login", {"country": "BR"}, {}, "none"],
		# no or malformed payout country
		["withdrawal", {"method": "card"}, {}, "none"],
		["withdrawal", {"country": "Brazil"}, {}, "none"],
	]
	every c in cases {
		got := action_of(payout_at(c[0], object.union(pt_bank, c[1]), c[2]), "PAYOUT_COUNTRY_MISMATCH")
		print("case", c, "got", got)
		got == c[3]
	}
}

test_payout_country_mismatch_without_claimed_country if {
	x := payout_at("withdrawal", object.union(pt_bank, {"country": "BR"}), {})
	action_of(json.patch(x, [{"op": "replace", "path": "/subject/profile/country", "value": ""}]), "PAYOUT_COUNTRY_MISMATCH") == "none"
}

test_payout_holder_mismatch if {
	cases := [
		# someone else's account, an established account at home: step-up
		["payout_method_change", 1, {}, {}, 457.1, "challenge"],
		["withdrawal", 0.5, {}, {}, 457.1, "challenge"],
		# just below firing: a nickname or initials scored by the detector
		["withdrawal", 0.49, {}, {}, 457.1, "none"],
		# with a country lie: the payout country, or the IP
		["withdrawal", 1, {"country": "NG"}, {}, 457.1, "restrict"],
		["payout_method_change", 1, {}, {"geo.ip_country": sig(0, "NG")}, 457.1, "restrict"],
		# a new account, or one whose age gavel does not know
		["payout_method_change", 1, {}, {}, 3, "restrict"],
		["payout_method_change", 1, {}, {}, 0, "restrict"],
		["payout_method_change", 1, {}, {}, 30, "challenge"],
		# not where money moves
		["identity_verification", 1, {}, {}, 3, "none"],
	]
	every c in cases {
		x := payout_at(c[0], object.union(pt_bank, c[2]), object.union({"payout.holder_mismatch": sig(c[1], "")}, c[3]))
		y := json.patch(x, [{"op": "replace", "path": "/subject/age_days", "value": c[4]}])
		got := action_of(y, "PAYOUT_HOLDER_MISMATCH")
		print("case", c, "got", got)
		got == c[5]
	}
}

test_payout_holder_mismatch_evidence_and_hold if {
	x := payout_at("withdrawal", object.union(pt_bank, {"country": "NG"}), {"payout.holder_mismatch": sig(1, "1.000")})
	d := decide(x)
	d.action == "restrict"
	{c.capability | some c in d.restrictions} == {"payouts", "withdrawals"}
	d.remedy.code == "verify_identity"
	some r in d.reasons
	r.code == "PAYOUT_HOLDER_MISMATCH"
	r.evidence[0].signal == "payout.holder_mismatch"
}

test_honest_payout_is_allowed if {
	every cp in ["payout_method_change", "withdrawal"] {
		decide(payout_at(cp, pt_bank, {"payout.holder_mismatch": sig(0, "0.000")})).action == "allow"
	}
}
