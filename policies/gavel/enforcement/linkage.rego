package gavel.enforcement

# Linkage rules: this account shares a device, a payout account or an identity
# document with other accounts, or is linked to a suspended one.

# Number of other accounts at which sharing stops looking like a household.
device_crowd := 5

payout_crowd := 3

# DEVICE_SHARED: households and shared computers are normal; crowds are not.
# Where money moves sharing is stepped up and a crowd is held, except within
# a household (below), which at most warns.
reasons contains {
	"code": "DEVICE_SHARED",
	"action": device_shared_action(accounts("linkage.shared_device")),
	"rule": "linkage.shared_device",
	"evidence": [object.union(evidence("linkage.shared_device"), {"household": household})],
} if {
	accounts("linkage.shared_device") >= 1
}

# A household: a few long-standing accounts on one device, all sharing this
# account's family name (the linkage detector compares keyed hashes), none
# restricted or suspended, and no payout account shared with anyone. Sharing
# with a suspended or restricted account, or a shared payout account, stays
# severe (LINKED_TO_SUSPENDED_ACCOUNT, PAYOUT_ACCOUNT_SHARED fire on their own).
household_max_accounts := 3

household_min_age_days := 90

default household := false

household if {
	n := accounts("linkage.shared_device")
	n <= household_max_accounts
	hh := input.signals["linkage.shared_device"].evidence.household
	hh.examined == n
	hh.known == n
	hh.same_family == n
	hh.restricted == 0
	hh.suspended == 0
	hh.youngest_age_days >= household_min_age_days
	input.subject.age_days >= household_min_age_days
	not fired("linkage.suspended_link")
	not fired("linkage.shared_payout_account")
}

device_shared_action(_) := "warn" if {
	household
} else := action if {
	action := crowd_action(accounts("linkage.shared_device"))
}

crowd_action(n) := "restrict" if {
	at_money
	n >= device_crowd
} else := "challenge" if {
	at_money
} else := "challenge" if {
	n >= device_crowd
} else := "warn"

# PAYOUT_ACCOUNT_SHARED: one bank or wallet paying out for several accounts.
reasons contains {
	"code": "PAYOUT_ACCOUNT_SHARED",
	"action": payout_shared_action(accounts("linkage.shared_payout_account")),
	"rule": "linkage.shared_payout_account",
	"evidence": [evidence("linkage.shared_payout_account")],
} if {
	accounts("linkage.shared_payout_account") >= 1
}

payout_shared_action(n) := "restrict" if {
	n >= payout_crowd
} else := "challenge" if {
	at_money
} else := "warn"

# DOCUMENT_REUSED: the identity document already verified another account
# (identity reuse). Severe: suspend at once.
reasons contains {
	"code": "DOCUMENT_REUSED",
	"action": "suspend",
	"rule": "linkage.shared_document",
	"evidence": [evidence("linkage.shared_document")],
} if {
	fired("linkage.shared_document")
}

# LINKED_TO_SUSPENDED_ACCOUNT: linked to a suspended account. Where money moves
# this is severe (suspend); elsewhere a payout or document link is held and a
# device link is stepped up.
reasons contains {
	"code": "LINKED_TO_SUSPENDED_ACCOUNT",
	"action": suspended_link_action,
	"rule": "linkage.suspended_link",
	"evidence": [object.union(evidence("linkage.suspended_link"), {"via": suspended_link_via})],
} if {
	fired("linkage.suspended_link")
}

default suspended_link_via := "unknown"

suspended_link_via := via if {
	via := input.signals["linkage.suspended_link"].evidence.via
	is_string(via)
}

suspended_link_action := "suspend" if {
	at_money
} else := "restrict" if {
	suspended_link_via in {"payout", "document"}
} else := "challenge"
