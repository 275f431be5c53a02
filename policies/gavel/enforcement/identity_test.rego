package gavel.enforcement

test_email_disposable_by_checkpoint if {
	cases := [
		["signup", "challenge"],
		["login", "warn"],
		["profile_update", "challenge"],
		["identity_verification", "warn"],
		["payout_method_change", "restrict"],
		["withdrawal", "restrict"],
		["proposal_submit", "challenge"],
		["contract_start", "challenge"],
		["account_recovery", "challenge"], # a checkpoint the table does not list
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"email.disposable": sig(1, "mailinator.com")}), "EMAIL_DISPOSABLE")
		print("case", c, "got", got)
		got == c[1]
	}
}

test_email_invalid if {
	cases := [
		["signup", 1, "challenge"],
		["profile_update", 0.9, "challenge"],
		["signup", 0.2, "none"],
		["login", 1, "none"],
		["withdrawal", 1, "none"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"email.invalid": sig(c[1], "")}), "EMAIL_INVALID")
		print("case", c, "got", got)
		got == c[2]
	}
}

test_email_random_local_part_warns_at_signup_only if {
	sigs := {
		"email.random_local_part": sig(0.9, "xk2q9zv"),
		"email.free_provider": sig(1, "gmail.com"),
		"email.plus_alias": sig(0, ""),
	}
	cases := [
		["signup", sigs, "warn"],
		["login", sigs, "none"],
		["signup", {"email.random_local_part": sig(0.7, "jdoe83")}, "none"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], c[1]), "EMAIL_RANDOM_LOCAL_PART")
		print("case", c[0], c[2], "got", got)
		got == c[2]
	}
	r := [r | some r in decide(at_cp("signup", sigs)).reasons; r.code == "EMAIL_RANDOM_LOCAL_PART"][0]
	[e.signal | some e in r.evidence] == ["email.random_local_part", "email.free_provider"]
}

test_free_provider_and_plus_alias_alone_are_no_reason if {
	got := decide(at_cp("signup", {
		"email.free_provider": sig(1, "gmail.com"),
		"email.plus_alias": sig(1, "ana.silva+work@gmail.com"),
	}))
	got.action == "allow"
	got.reasons == []
}

test_country_mismatch_sources if {
	cases := [
		# one source warns, by value or by mismatch signal
		{"cp": "signup", "sigs": {"geo.ip_country": sig(0, "ES")}, "want": "warn"},
		{"cp": "signup", "sigs": {"geo.ip_country": sig(0, "pt")}, "want": "none"},
		{"cp": "signup", "sigs": {"phone.country_mismatch": sig(1, "")}, "want": "warn"},
		{"cp": "identity_verification", "sigs": {"document.country": sig(0, "BR")}, "want": "warn"},
		# two signals of one source are still one source
		{"cp": "signup", "sigs": {"geo.ip_country": sig(0, "ES"), "geo.country_mismatch": sig(1, "")}, "want": "warn"},
		# two or more sources escalate; where money moves, to a hold
		{"cp": "signup", "sigs": {"geo.ip_country": sig(0, "NG"), "phone.country": sig(0, "NG")}, "want": "challenge"},
		{"cp": "login", "sigs": {"geo.country_mismatch": sig(1, ""), "document.country_mismatch": sig(0.8, "")}, "want": "challenge"},
		{"cp": "payout_method_change", "sigs": {"geo.ip_country": sig(0, "NG"), "phone.country": sig(0, "NG")}, "want": "restrict"},
		{"cp": "withdrawal", "sigs": {"geo.ip_country": sig(0, "NG"), "phone.country": sig(0, "NG"), "document.country": sig(0, "NG")}, "want": "restrict"},
		# mismatch signals below threshold and matching values: no reason
		{"cp": "withdrawal", "sigs": {"geo.country_mismatch": sig(0.2, ""), "phone.country": sig(0, "PT")}, "want": "none"},
	]
	every c in cases {
		got := action_of(at_cp(c.cp, c.sigs), "COUNTRY_MISMATCH")
		print("case", c, "got", got)
		got == c.want
	}
}

test_country_values_need_a_claimed_country if {
	x := object.union(at_cp("signup", {"geo.ip_country": sig(0, "ES"), "phone.country": sig(0, "ES")}), {"subject": {"profile": {"country": ""}}})
	action_of(x, "COUNTRY_MISMATCH") == "none"

	# a mismatch signal still counts: the detector compared against something it knows
	y := object.union(at_cp("signup", {"geo.country_mismatch": sig(1, "")}), {"subject": {"profile": {"country": ""}}})
	action_of(y, "COUNTRY_MISMATCH") == "warn"
}

# Someone living in Poland on a Ukrainian passport: the IP agrees with the
# claimed country, only the document disagrees. The geo detector's mismatch
# (IP vs document) must not count the IP as a second source.
test_country_mismatch_ip_against_document_only_is_not_an_ip_mismatch if {
	expat := {
		"geo.ip_country": sig(0, "PT"),
		"geo.country_mismatch": object.union(sig(1, "PT"), {"evidence": {"mismatched": ["document"], "observed": "PT"}}),
		"document.country": sig(0, "UA"),
		"document.country_mismatch": sig(1, "UA"),
	}
	action_of(at_cp("withdrawal", expat), "COUNTRY_MISMATCH") == "warn"

	# the same signal naming the profile is an IP mismatch
	liar := object.union(expat, {"geo.country_mismatch": object.union(sig(1, "UA"), {"evidence": {"mismatched": ["profile", "document"]}})})
	action_of(at_cp("withdrawal", liar), "COUNTRY_MISMATCH") == "restrict"
}

test_country_mismatch_evidence_names_the_claimed_country if {
	r := [r | some r in decide(at_cp("signup", {"geo.ip_country": sig(0, "NG"), "phone.country": sig(0, "NG")})).reasons][0]
	r.code == "COUNTRY_MISMATCH"
	{[e.signal, e.value, e.claimed] | some e in r.evidence} == {["geo.ip_country", "NG", "PT"], ["phone.country", "NG", "PT"]}
}

test_hosting_network if {
	cases := [
		{"cp": "signup", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.ip_country": sig(0, "PT")}, "code": "HOSTING_NETWORK", "want": "warn"},
		# a VPN exit abroad alone: a privacy VPN, a warning
		{"cp": "signup", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.ip_country": sig(0, "NL")}, "code": "HOSTING_NETWORK_COUNTRY_MISMATCH", "want": "warn"},
		{"cp": "withdrawal", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.ip_country": sig(0, "NL")}, "code": "HOSTING_NETWORK_COUNTRY_MISMATCH", "want": "warn"},
		# with the phone or document also disagreeing: a location lie
		{"cp": "signup", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.ip_country": sig(0, "NL"), "phone.country": sig(0, "NG")}, "code": "HOSTING_NETWORK_COUNTRY_MISMATCH", "want": "challenge"},
		{"cp": "login", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.country_mismatch": sig(1, ""), "document.country_mismatch": sig(1, "NG")}, "code": "HOSTING_NETWORK_COUNTRY_MISMATCH", "want": "challenge"},
		{"cp": "withdrawal", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.ip_country": sig(0, "NL"), "phone.country_mismatch": sig(1, "NG")}, "code": "HOSTING_NETWORK_COUNTRY_MISMATCH", "want": "restrict"},
		# with a mismatch the plain warning does not fire as well
		{"cp": "signup", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "geo.ip_country": sig(0, "NL")}, "code": "HOSTING_NETWORK", "want": "none"},
		# a phone mismatch is no IP mismatch
		{"cp": "signup", "sigs": {"geo.hosting_asn": sig(1, "AS16509"), "phone.country": sig(0, "NL")}, "code": "HOSTING_NETWORK_COUNTRY_MISMATCH", "want": "none"},
	]
	every c in cases {
		got := action_of(at_cp(c.cp, c.sigs), c.code)
		print("case", c, "got", got)
		got == c.want
	}
}

test_phone_invalid if {
	cases := [
		["signup", "challenge"],
		["profile_update", "challenge"],
		["payout_method_change", "challenge"],
		["login", "none"],
		["withdrawal", "none"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"phone.invalid": sig(1, "")}), "PHONE_INVALID")
		print("case", c, "got", got)
		got == c[1]
	}
}

test_phone_voip if {
	cases := [
		["signup", "warn"],
		["payout_method_change", "challenge"],
		["withdrawal", "challenge"],
		["login", "none"],
		["proposal_submit", "none"],
	]
	every c in cases {
		x := at_cp(c[0], {"phone.voip": sig(1, "")})
		got := action_of(x, "PHONE_VOIP")
		print("case", c, "got", got)
		got == c[1]
	}
	decide(at_cp("withdrawal", {"phone.voip": sig(1, "")})).remedy.code == "verify_identity"
}
