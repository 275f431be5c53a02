package gavel.enforcement

test_shared_device_bands if {
	cases := [
		["signup", "1", "warn"],
		["signup", "4", "warn"],
		["signup", "5", "challenge"],
		["login", "12", "challenge"],
		["payout_method_change", "1", "challenge"],
		["withdrawal", "4", "challenge"],
		["withdrawal", "5", "restrict"],
		["signup", "0", "none"],
		# a detector that reports no count: one other account
		["signup", "", "warn"],
		["withdrawal", "many", "challenge"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"linkage.shared_device": sig(1, c[1])}), "DEVICE_SHARED")
		print("case", c, "got", got)
		got == c[2]
	}
	action_of(at_cp("withdrawal", {"linkage.shared_device": sig(0.1, "9")}), "DEVICE_SHARED") == "none"
}

test_shared_payout_account_bands if {
	cases := [
		["withdrawal", "1", "challenge"],
		["payout_method_change", "2", "challenge"],
		["payout_method_change", "3", "restrict"],
		["withdrawal", "7", "restrict"],
		["contract_start", "3", "restrict"],
		["login", "1", "warn"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], {"linkage.shared_payout_account": sig(1, c[1])}), "PAYOUT_ACCOUNT_SHARED")
		print("case", c, "got", got)
		got == c[2]
	}
}

test_shared_document_suspends_everywhere if {
	every cp in all_checkpoints {
		got := decide(at_cp(cp, {"linkage.shared_document": sig(1, "1")}))
		print("checkpoint", cp, "got", got.action)
		got.action == "suspend"
		emitted(at_cp(cp, {"linkage.shared_document": sig(1, "1")})) == {"DOCUMENT_REUSED": "suspend"}
	}
}

link(via) := {"linkage.suspended_link": object.union(sig(1, "1"), {"evidence": {"via": via}})}

test_suspended_link if {
	cases := [
		["payout_method_change", "device", "suspend"],
		["withdrawal", "payout", "suspend"],
		["signup", "payout", "restrict"],
		["login", "document", "restrict"],
		["signup", "device", "challenge"],
		["proposal_submit", "", "challenge"],
	]
	every c in cases {
		got := action_of(at_cp(c[0], link(c[1])), "LINKED_TO_SUSPENDED_ACCOUNT")
		print("case", c, "got", got)
		got == c[2]
	}
	r := decide(at_cp("login", link("document"))).reasons[0]
	r.evidence[0].via == "document"
}

test_suspended_link_without_via_evidence if {
	x := at_cp("signup", {"linkage.suspended_link": sig(1, "")})
	r := decide(x).reasons[0]
	r.code == "LINKED_TO_SUSPENDED_ACCOUNT"
	r.action == "challenge"
	r.evidence[0].via == "unknown"
}
