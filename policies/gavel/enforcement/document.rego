package gavel.enforcement

# Identity document rules. The document is described by detector signals and,
# when the caller already has the identity vendor's result, by
# input.attributes.document.

document := object.get(input.attributes, "document", {})

# attribute_evidence(field) is an evidence item for a caller-supplied document field.
attribute_evidence(field) := {
	"attribute": concat(".", ["document", field]),
	"value": document[field],
	"source": "caller",
}

# DOCUMENT_NAME_MISMATCH: score is 1 - similarity between the document name and
# the claimed name. Small differences (transliteration, middle names) warn.
reasons contains {
	"code": "DOCUMENT_NAME_MISMATCH",
	"action": name_mismatch_action,
	"rule": "document.name_mismatch",
	"evidence": [evidence("document.name_mismatch")],
} if {
	score("document.name_mismatch") >= 0.25
}

name_mismatch_action := "restrict" if {
	score("document.name_mismatch") >= 0.8
} else := "challenge" if {
	score("document.name_mismatch") >= 0.5
} else := "warn"

today := substring(input.now, 0, 10)

# DOCUMENT_EXPIRED: submit a valid document.
reasons contains {
	"code": "DOCUMENT_EXPIRED",
	"action": "challenge",
	"rule": "document.expired",
	"evidence": document_expired_evidence,
} if {
	input.checkpoint == "identity_verification"
	count(document_expired_evidence) > 0
}

document_expired_evidence := array.concat(
	present_evidence(["document.expired"]),
	[attribute_evidence("expires") | expired_by_date],
)

expired_by_date if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`, document.expires)
	substring(document.expires, 0, 10) < today
}

# DOCUMENT_REJECTED: the identity vendor rejected the document (not a request
# to retry). Strike-worthy even as a challenge: a second rejection escalates.
reasons contains {
	"code": "DOCUMENT_REJECTED",
	"action": "challenge",
	"rule": "document.vendor_rejected",
	"evidence": document_rejected_evidence,
} if {
	input.checkpoint == "identity_verification"
	count(document_rejected_evidence) > 0
}

document_rejected_evidence := array.concat(
	present_evidence(["document.vendor_rejected"]),
	[attribute_evidence("vendor_verdict") | document.vendor_verdict == "rejected"],
)

# DOCUMENT_DOB_MISMATCH: the document's date of birth is not the claimed one.
reasons contains {
	"code": "DOCUMENT_DOB_MISMATCH",
	"action": "challenge",
	"rule": "document.dob_mismatch",
	"evidence": document_dob_evidence,
} if {
	input.checkpoint == "identity_verification"
	count(document_dob_evidence) > 0
}

document_dob_evidence := array.concat(
	present_evidence(["document.dob_mismatch"]),
	[attribute_evidence("date_of_birth") | dob_differs],
)

dob_differs if {
	input.subject.profile.date_of_birth != ""
	document.date_of_birth != ""
	document.date_of_birth != input.subject.profile.date_of_birth
}
