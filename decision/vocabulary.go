package decision

import (
	"fmt"
	"slices"
	"strings"
)

// AttributeVocabulary is every key gavel understands under each attribute
// object it knows (the document a verification vendor returned, the payout
// details). policies/input.schema.json lists the same keys. Validate refuses
// any other key under these objects, so a caller that names a field
// differently (`expiry` for `expires`) hears about it at once instead of
// silently losing the check; fields of its own go under `extra`, which no
// rule reads. Other top-level attribute objects stay free-form.
var AttributeVocabulary = map[string][]string{
	"document": {"type", "number", "country", "given_name", "family_name", "date_of_birth", "expires",
		"vendor", "vendor_verdict", "extra"},
	"payout": {"method", "account_hash", "country", "holder_name", "name_match", "extra"},
}

// attributeSynonyms are the names callers commonly give the vocabulary's
// fields, for the error's suggestion.
var attributeSynonyms = map[string]string{
	"expiry": "expires", "expiry_date": "expires", "expiration": "expires", "expiration_date": "expires",
	"expires_at": "expires", "valid_until": "expires",
	"issuing_country": "country", "issuer_country": "country", "country_code": "country", "nationality": "country",
	"bank_country": "country", "account_country": "country",
	"dob": "date_of_birth", "birth_date": "date_of_birth", "birthdate": "date_of_birth",
	"first_name": "given_name", "firstname": "given_name", "last_name": "family_name", "lastname": "family_name",
	"surname": "family_name", "document_number": "number", "doc_number": "number", "document_type": "type",
	"verdict": "vendor_verdict", "status": "vendor_verdict", "result": "vendor_verdict", "provider": "vendor",
	"holder": "holder_name", "account_holder": "holder_name", "account_name": "holder_name", "beneficiary": "holder_name",
	"account_id": "account_hash", "account": "account_hash", "type_of_payout": "method", "payout_method": "method",
	"name_match_result": "name_match", "cop_result": "name_match",
}

// checkVocabulary reports each attribute key under a known object that is
// not in AttributeVocabulary, and a known object that is not an object.
func checkVocabulary(attrs map[string]any, bad func(field, format string, args ...any)) {
	for _, obj := range []string{"document", "payout"} {
		v, ok := attrs[obj]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			bad("attributes."+obj, "must be an object")
			continue
		}
		known := AttributeVocabulary[obj]
		keys := make([]string, 0, len(m))
		for k := range m {
			if !slices.Contains(known, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			hint := ""
			if s, ok := attributeSynonyms[strings.ToLower(k)]; ok && slices.Contains(known, s) {
				hint = fmt.Sprintf("did you mean %q? ", s)
			}
			bad("attributes."+obj+"."+truncate(k, 64), "unknown key: %sgavel reads %s; put fields of your own under attributes.%s.extra",
				hint, strings.Join(known[:len(known)-1], ", "), obj)
		}
		if e, ok := m["extra"]; ok && e != nil {
			if _, ok := e.(map[string]any); !ok {
				bad("attributes."+obj+".extra", "must be an object")
			}
		}
	}
}
