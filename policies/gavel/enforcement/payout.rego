package gavel.enforcement

# Payout rules: whose account the money goes to, and where.
#
# payout.holder_mismatch (document detector) is 1 - the similarity of the
# payout account holder's name to the closer of the profile and document
# names, across scripts, diacritics, name order, initials and nicknames, or
# the vendor's name-match result when the caller sent one.

payout := object.get(input.attributes, "payout", {})

# Accounts younger than this are new where money moves. An account whose
# creation time gavel was not told (age_days 0) counts as new.
new_account_days := 30

new_account if input.subject.age_days < new_account_days

# PAYOUT_COUNTRY_MISMATCH: the payout account is in another country than the
# claimed one. Alone a warning (people keep a bank account at home); with
# another source (IP, phone, document) also contradicting the claimed
# country, a step-up.
payout_country := upper(payout.country) if {
	is_string(payout.country)
	regex.match(`^[A-Za-z]{2}$`, payout.country)
}

payout_country_differs if {
	claimed_country != ""
	payout_country != claimed_country
}

reasons contains {
	"code": "PAYOUT_COUNTRY_MISMATCH",
	"action": payout_country_action,
	"rule": "payout.country_mismatch",
	"evidence": [{
		"attribute": "payout.country",
		"value": payout_country,
		"claimed": claimed_country,
		"source": "caller",
	}],
} if {
	at_money
	payout_country_differs
}

payout_country_action := "challenge" if {
	count(country_mismatches) > 0
} else := "warn"

# PAYOUT_HOLDER_MISMATCH: the money goes to someone else's account. At least
# a step-up (verify identity and the account); a hold when the account also
# lies about its country (the payout country or another source contradicts
# the claimed one) or is new.
reasons contains {
	"code": "PAYOUT_HOLDER_MISMATCH",
	"action": holder_mismatch_action,
	"rule": "payout.holder_mismatch",
	"evidence": [evidence("payout.holder_mismatch")],
} if {
	at_money
	fired("payout.holder_mismatch")
}

holder_mismatch_action := "restrict" if {
	payout_country_differs
} else := "restrict" if {
	count(country_mismatches) > 0
} else := "restrict" if {
	new_account
} else := "challenge"
