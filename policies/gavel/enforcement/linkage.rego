package gavel.enforcement

# Linkage rules: this account shares a device, a payout account or an identity
# document with other accounts, or is linked to a suspended one.

# Number of other accounts at which sharing stops looking like a household.
device_crowd := 5

payout_crowd := 3

# DEVICE_SHARED: households and shared computers are normal; crowds are not.
# Where money moves any sharing is stepped up and a crowd is held.
reasons contains {
	"code": "DEVICE_SHARED",
	"action": device_shared_action(accounts("linkage.shared_device")),
	"rule": "linkage.shared_device",
	"evidence": [evidence("linkage.shared_device")],
} if {
	accounts("linkage.shared_device") >= 1
}

device_shared_action(n) := "restrict" if {
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
