package bundles

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gavel/gavel/decision"
)

// catalogPath is where the bundle keeps its reason catalog.
var catalogPath = []string{"gavel", "catalog"}

// catalog is the bundle's reason catalog, read once per activation. Reasons
// hold the texts to copy into every verdict; Action, Rule and Evidence come
// from the policy per request.
type catalog struct {
	reasons  map[string]decision.Reason
	remedies map[string]decision.Remedy
	// capabilities a hold can name, sorted.
	capabilities []string
}

// readCatalog finds data.gavel.catalog in the bundle's data document and
// checks it: every reason has a title and a message, appealable is a
// boolean, every remedy has a message.
func readCatalog(data map[string]any) (catalog, error) {
	var node any = data
	for _, k := range catalogPath {
		obj, ok := node.(map[string]any)
		if !ok {
			return catalog{}, errors.New("reason catalog data.gavel.catalog is missing")
		}
		if node, ok = obj[k]; !ok {
			return catalog{}, errors.New("reason catalog data.gavel.catalog is missing")
		}
	}
	root, ok := node.(map[string]any)
	if !ok {
		return catalog{}, fmt.Errorf("reason catalog: want an object, got %s", jsonType(node))
	}
	reasons, ok := root["reasons"].(map[string]any)
	if !ok || len(reasons) == 0 {
		return catalog{}, errors.New("reason catalog: reasons: want a non-empty object")
	}
	c := catalog{
		reasons:  make(map[string]decision.Reason, len(reasons)),
		remedies: map[string]decision.Remedy{},
	}
	var errs []error
	for _, code := range sortedKeys(reasons) {
		e, ok := reasons[code].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("reason %q: want an object, got %s", code, jsonType(reasons[code])))
			continue
		}
		var r decision.Reason
		r.Code = code
		var err error
		if r.Title, err = requiredString(e, "title"); err != nil {
			errs = append(errs, fmt.Errorf("reason %q: %w", code, err))
		}
		if r.Message, err = requiredString(e, "message"); err != nil {
			errs = append(errs, fmt.Errorf("reason %q: %w", code, err))
		}
		if r.Explanation, err = optionalString(e, "explanation"); err != nil {
			errs = append(errs, fmt.Errorf("reason %q: %w", code, err))
		}
		if r.Ground, err = optionalString(e, "ground"); err != nil {
			errs = append(errs, fmt.Errorf("reason %q: %w", code, err))
		}
		if r.DSACategory, err = optionalString(e, "dsa_category"); err != nil {
			errs = append(errs, fmt.Errorf("reason %q: %w", code, err))
		}
		if r.DSAKeyword, err = optionalString(e, "dsa_keyword"); err != nil {
			errs = append(errs, fmt.Errorf("reason %q: %w", code, err))
		}
		switch a := e["appealable"].(type) {
		case bool:
			r.Appealable = a
		default:
			errs = append(errs, fmt.Errorf("reason %q: appealable: want a boolean, got %s", code, jsonType(e["appealable"])))
		}
		c.reasons[code] = r
	}
	if raw, present := root["remedies"]; present {
		remedies, ok := raw.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("remedies: want an object, got %s", jsonType(raw)))
		}
		for _, code := range sortedKeys(remedies) {
			e, ok := remedies[code].(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("remedy %q: want an object, got %s", code, jsonType(remedies[code])))
				continue
			}
			m := decision.Remedy{Code: code}
			var err error
			if m.Message, err = requiredString(e, "message"); err != nil {
				errs = append(errs, fmt.Errorf("remedy %q: %w", code, err))
			}
			if m.Checkpoint, err = optionalString(e, "checkpoint"); err != nil {
				errs = append(errs, fmt.Errorf("remedy %q: %w", code, err))
			}
			c.remedies[code] = m
		}
	}
	if raw, present := root["capabilities"]; present {
		caps, ok := raw.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("capabilities: want an object, got %s", jsonType(raw)))
		}
		c.capabilities = sortedKeys(caps)
	}
	if len(errs) > 0 {
		return catalog{}, fmt.Errorf("reason catalog: %w", errors.Join(errs...))
	}
	return c, nil
}

func requiredString(obj map[string]any, key string) (string, error) {
	v, present := obj[key]
	if !present {
		return "", fmt.Errorf("%s is missing", key)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s: want a non-empty string, got %s", key, jsonType(v))
	}
	return s, nil
}

func optionalString(obj map[string]any, key string) (string, error) {
	v, present := obj[key]
	if !present || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %s", key, jsonType(v))
	}
	return s, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonType names the JSON type of a decoded value, for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return "number"
	}
}
