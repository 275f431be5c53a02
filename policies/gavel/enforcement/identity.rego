package gavel.enforcement

# Email, phone and country rules: does the claimed identity hold together?

# EMAIL_INVALID: the address cannot receive mail.
reasons contains {
	"code": "EMAIL_INVALID",
	"action": "challenge",
	"rule": "identity.email_invalid",
	"evidence": [evidence("email.invalid")],
} if {
	input.checkpoint in {"signup", "profile_update"}
	fired("email.invalid")
}

# EMAIL_DISPOSABLE: a throw-away mailbox. Step-up at entry points, a hold where
# money moves, a warning where the account already proved itself (login) or is
# verifying anyway.
email_disposable_action := {
	"signup": "challenge",
	"login": "warn",
	"profile_update": "challenge",
	"identity_verification": "warn",
	"payout_method_change": "restrict",
	"withdrawal": "restrict",
}

reasons contains {
	"code": "EMAIL_DISPOSABLE",
	"action": at(email_disposable_action, "challenge"),
	"rule": "identity.email_disposable",
	"evidence": [evidence("email.disposable")],
} if {
	fired("email.disposable")
}

# EMAIL_RANDOM_LOCAL_PART: a machine-generated-looking mailbox name at signup.
# A free provider or a plus alias alone is never a reason: honest users have both.
reasons contains {
	"code": "EMAIL_RANDOM_LOCAL_PART",
	"action": "warn",
	"rule": "identity.email_random_local_part",
	"evidence": present_evidence(["email.random_local_part", "email.free_provider", "email.plus_alias"]),
} if {
	input.checkpoint == "signup"
	score("email.random_local_part") >= 0.8
}

# Country consistency. Each source (the IP, the phone, the document) disagrees
# with the claimed country when its mismatch signal fired or its observed country
# differs from the claimed one.
claimed_country := input.subject.profile.country

country_signals := {
	"ip": ["geo.ip_country", "geo.country_mismatch"],
	"phone": ["phone.country", "phone.country_mismatch"],
	"document": ["document.country", "document.country_mismatch"],
}

country_mismatches contains src if {
	some src, names in country_signals
	fired(names[1])
	not mismatched_document_only(names[1])
}

# The geo detector also fires geo.country_mismatch when the IP disagrees with
# the document's country alone (evidence.mismatched == ["document"]). That is
# not the IP contradicting the claimed country: someone living abroad on a
# passport from home would count twice, once for the IP and once for the
# document.
mismatched_document_only(name) if {
	m := input.signals[name].evidence.mismatched
	is_array(m)
	not "profile" in m
}

country_mismatches contains src if {
	some src, names in country_signals
	claimed_country != ""
	observed := value(names[0])
	observed != ""
	upper(observed) != claimed_country
}

country_evidence := [object.union(evidence(n), {"claimed": claimed_country}) |
	some src in country_mismatches
	some n in country_signals[src]
	input.signals[n]
]

# COUNTRY_MISMATCH: one source is a warning (travel, roaming); two or more
# escalate to step-up, and to a hold where money moves.
reasons contains {
	"code": "COUNTRY_MISMATCH",
	"action": country_mismatch_action,
	"rule": "identity.country_mismatch",
	"evidence": country_evidence,
} if {
	count(country_mismatches) > 0
}

country_mismatch_action := "warn" if {
	count(country_mismatches) == 1
} else := "restrict" if {
	at_money
} else := "challenge"

# HOSTING_NETWORK: a datacenter or hosting address (VPNs, proxies). Alone it is a warning.
reasons contains {
	"code": "HOSTING_NETWORK",
	"action": "warn",
	"rule": "identity.hosting_network",
	"evidence": [evidence("geo.hosting_asn")],
} if {
	fired("geo.hosting_asn")
	not "ip" in country_mismatches
}

# HOSTING_NETWORK_COUNTRY_MISMATCH: a hosting address that also hides a
# different country than the one claimed.
reasons contains {
	"code": "HOSTING_NETWORK_COUNTRY_MISMATCH",
	"action": hosting_mismatch_action,
	"rule": "identity.hosting_network_country_mismatch",
	"evidence": array.concat([evidence("geo.hosting_asn")], present_ip_evidence),
} if {
	fired("geo.hosting_asn")
	"ip" in country_mismatches
}

# A VPN exit abroad is what privacy VPNs do by default; alone it is a
# warning. With another source (phone, document) also disagreeing with the
# claimed country it is a location lie: a step-up, a hold where money moves.
hosting_mismatch_action := "warn" if {
	count(country_mismatches) == 1
} else := "restrict" if {
	at_money
} else := "challenge"

present_ip_evidence := [evidence(n) | some n in country_signals.ip; input.signals[n]]

# PHONE_INVALID: the number cannot be reached.
reasons contains {
	"code": "PHONE_INVALID",
	"action": "challenge",
	"rule": "identity.phone_invalid",
	"evidence": [evidence("phone.invalid")],
} if {
	input.checkpoint in {"signup", "profile_update", "payout_method_change"}
	fired("phone.invalid")
}

# PHONE_VOIP: a virtual number. Step-up where money moves, a warning at signup.
phone_voip_action := {
	"signup": "warn",
	"payout_method_change": "challenge",
	"withdrawal": "challenge",
}

reasons contains {
	"code": "PHONE_VOIP",
	"action": phone_voip_action[input.checkpoint],
	"rule": "identity.phone_voip",
	"evidence": [evidence("phone.voip")],
} if {
	fired("phone.voip")
}
