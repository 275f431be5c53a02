package gavel.enforcement

idv(sigs, document) := object.union(at_cp("identity_verification", sigs), {"attributes": {"document": document}})

honest_document := {
	"number": "P1234567",
	"country": "PT",
	"given_name": "Ana",
	"family_name": "Silva",
	"date_of_birth": "1991-04-02",
	"expires": "2031-01-31",
	"vendor_verdict": "approved",
}

test_honest_identity_verification_allowed if {
	got := decide(idv({"document.name_mismatch": sig(0.05, ""), "document.country": sig(0, "PT")}, honest_document))
	got.action == "allow"
	got.reasons == []
}

test_document_name_mismatch_bands if {
	cases := [
		[0.1, "none"],
		[0.25, "warn"],
		[0.49, "warn"],
		[0.5, "challenge"],
		[0.79, "challenge"],
		[0.8, "restrict"],
	]
	every c in cases {
		got := action_of(idv({"document.name_mismatch": sig(c[0], "")}, honest_document), "DOCUMENT_NAME_MISMATCH")
		print("case", c, "got", got)
		got == c[1]
	}
}

test_document_expired if {
	cases := [
		# by signal, by the caller's expiry date, or both
		[{"document.expired": sig(1, "")}, honest_document, "identity_verification", ["document.expired"]],
		[{}, object.union(honest_document, {"expires": "2025-05-31"}), "identity_verification", ["document.expires"]],
		[{}, object.union(honest_document, {"expires": "2025-05-31T00:00:00Z"}), "identity_verification", ["document.expires"]],
		[{"document.expired": sig(1, "")}, object.union(honest_document, {"expires": "2020-01-01"}), "identity_verification", ["document.expired", "document.expires"]],
		# valid today, unparseable, or another checkpoint: no reason
		[{}, object.union(honest_document, {"expires": "2025-06-01"}), "identity_verification", []],
		[{}, object.union(honest_document, {"expires": "soon"}), "identity_verification", []],
		[{"document.expired": sig(1, "")}, honest_document, "withdrawal", []],
	]
	every c in cases {
		x := object.union(idv(c[0], c[1]), {"checkpoint": c[2]})
		got := [object.get(e, "signal", object.get(e, "attribute", "")) |
			some r in decide(x).reasons
			r.code == "DOCUMENT_EXPIRED"
			r.action == "challenge"
			some e in r.evidence
		]
		print("case", c, "got", got)
		got == c[3]
	}
}

test_document_rejected_is_a_challenge_and_a_strike if {
	cases := [
		[{"document.vendor_rejected": sig(1, "")}, honest_document],
		[{}, object.union(honest_document, {"vendor_verdict": "rejected"})],
	]
	every c in cases {
		got := decide(idv(c[0], c[1]))
		print("case", c, "got", got)
		got.action == "challenge"
		[r.code | some r in got.reasons] == ["DOCUMENT_REJECTED"]
		got.strike == true
		got.remedy.code == "verify_identity"
	}
	decide(idv({}, object.union(honest_document, {"vendor_verdict": "resubmit"}))).action == "allow"
}

test_document_dob_mismatch if {
	cases := [
		[{"document.dob_mismatch": sig(1, "")}, honest_document, "challenge"],
		[{}, object.union(honest_document, {"date_of_birth": "1991-02-04"}), "challenge"],
		[{}, object.union(honest_document, {"date_of_birth": ""}), "none"],
		[{"document.dob_mismatch": sig(0.2, "")}, honest_document, "none"],
	]
	every c in cases {
		got := action_of(idv(c[0], c[1]), "DOCUMENT_DOB_MISMATCH")
		print("case", c, "got", got)
		got == c[2]
	}
}

test_document_rules_tolerate_missing_attributes if {
	got := decide(at_cp("identity_verification", {"document.expired": sig(1, "")}))
	emitted(at_cp("identity_verification", {"document.expired": sig(1, "")})) == {"DOCUMENT_EXPIRED": "challenge"}
	got.action == "challenge"
}
