package bundles

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gavel/gavel/decision"
)

// resultKeys are the members every policy result must have.
var resultKeys = [...]string{"action", "restrictions", "reasons", "remedy", "duration", "strike"}

// verdict turns the entry point's value into a verdict, joining the catalog
// texts. It is strict: anything that is not the policy contract is an
// error, so a malformed result can never pass for an allow. Members beyond
// the contract are ignored.
func (c *catalog) verdict(result any) (decision.Verdict, error) {
	obj, ok := result.(map[string]any)
	if !ok {
		return decision.Verdict{}, fmt.Errorf("policy result: want an object, got %s", jsonType(result))
	}
	for _, k := range resultKeys {
		if _, present := obj[k]; !present {
			return decision.Verdict{}, fmt.Errorf("policy result: %s is missing", k)
		}
	}
	var v decision.Verdict
	var err error
	if v.Action, err = parseAction(obj["action"]); err != nil {
		return decision.Verdict{}, fmt.Errorf("policy result: action: %w", err)
	}
	if v.Restrictions, err = parseRestrictions(obj["restrictions"]); err != nil {
		return decision.Verdict{}, fmt.Errorf("policy result: %w", err)
	}
	if v.Reasons, err = c.parseReasons(obj["reasons"]); err != nil {
		return decision.Verdict{}, fmt.Errorf("policy result: %w", err)
	}
	if v.Remedy, err = c.parseRemedy(obj["remedy"]); err != nil {
		return decision.Verdict{}, fmt.Errorf("policy result: remedy: %w", err)
	}
	if v.Duration, err = parseDuration(obj["duration"]); err != nil {
		return decision.Verdict{}, fmt.Errorf("policy result: duration: %w", err)
	}
	strike, ok := obj["strike"].(bool)
	if !ok {
		return decision.Verdict{}, fmt.Errorf("policy result: strike: want a boolean, got %s", jsonType(obj["strike"]))
	}
	v.Strike = strike
	if raw, present := obj["suppressed"]; present {
		if v.Suppressed, err = parseSuppressed(raw); err != nil {
			return decision.Verdict{}, fmt.Errorf("policy result: %w", err)
		}
	}
	if raw, present := obj["review"]; present {
		if v.Review, err = parseReview(raw, v.Reasons); err != nil {
			return decision.Verdict{}, fmt.Errorf("policy result: review: %w", err)
		}
	}
	if v.Action > decision.Allow && len(v.Reasons) == 0 {
		return decision.Verdict{}, fmt.Errorf("policy result: action %s without a reason", v.Action)
	}
	return v, nil
}

func parseAction(raw any) (decision.Action, error) {
	s, ok := raw.(string)
	if !ok {
		return decision.ActionUnspecified, fmt.Errorf("want a string, got %s", jsonType(raw))
	}
	return decision.ParseAction(s)
}

// parseDuration accepts "" (no duration) or a Go duration such as "720h".
func parseDuration(raw any) (time.Duration, error) {
	s, ok := raw.(string)
	if !ok {
		return 0, fmt.Errorf("want a string, got %s", jsonType(raw))
	}
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration or \"\"", s)
	}
	return d, nil
}

func parseRestrictions(raw any) ([]decision.Restriction, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("restrictions: want an array, got %s", jsonType(raw))
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]decision.Restriction, len(list))
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("restrictions[%d]: want an object, got %s", i, jsonType(e))
		}
		capability, ok := obj["capability"].(string)
		if !ok || capability == "" {
			return nil, fmt.Errorf("restrictions[%d]: capability: want a non-empty string, got %s", i, jsonType(obj["capability"]))
		}
		out[i].Capability = capability
		if id, present := obj["decision_id"]; present {
			// A hold already in force, re-asserted: its decision and until.
			s, ok := id.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("restrictions[%d] (%s): decision_id: want a non-empty string, got %s", i, capability, jsonType(id))
			}
			out[i].DecisionID = s
			if u, ok := obj["until"].(string); ok && u != "" {
				t, err := time.Parse(time.RFC3339, u)
				if err != nil {
					return nil, fmt.Errorf("restrictions[%d] (%s): until: %w", i, capability, err)
				}
				out[i].Until = t
			}
			continue
		}
		if d, present := obj["duration"]; present {
			var err error
			if out[i].Duration, err = parseDuration(d); err != nil {
				return nil, fmt.Errorf("restrictions[%d] (%s): duration: %w", i, capability, err)
			}
		}
	}
	return out, nil
}

func (c *catalog) parseReasons(raw any) ([]decision.Reason, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("reasons: want an array, got %s", jsonType(raw))
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]decision.Reason, len(list))
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reasons[%d]: want an object, got %s", i, jsonType(e))
		}
		code, ok := obj["code"].(string)
		if !ok || code == "" {
			return nil, fmt.Errorf("reasons[%d]: code: want a non-empty string, got %s", i, jsonType(obj["code"]))
		}
		r, known := c.reasons[code]
		if !known {
			return nil, fmt.Errorf("reasons[%d]: code %q is not in the reason catalog", i, code)
		}
		var err error
		if r.Action, err = parseAction(obj["action"]); err != nil {
			return nil, fmt.Errorf("reasons[%d] (%s): action: %w", i, code, err)
		}
		if r.Rule, err = optionalString(obj, "rule"); err != nil {
			return nil, fmt.Errorf("reasons[%d] (%s): %w", i, code, err)
		}
		if r.Evidence, err = parseEvidence(obj["evidence"]); err != nil {
			return nil, fmt.Errorf("reasons[%d] (%s): evidence: %w", i, code, err)
		}
		out[i] = r
	}
	return out, nil
}

func parseEvidence(raw any) ([]map[string]any, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("want an array, got %s", jsonType(raw))
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d]: want an object, got %s", i, jsonType(e))
		}
		plainNumbers(obj)
		out[i] = obj
	}
	return out, nil
}

// plainNumbers turns OPA's json.Number values into float64 in place, so
// evidence holds the plain JSON types the rest of gavel (and structpb)
// expects. The values are fresh from this evaluation; nothing is shared.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case json.Number, map[string]any, []any:
				x[k] = plainNumbers(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}

func (c *catalog) parseRemedy(raw any) (*decision.Remedy, error) {
	if raw == nil {
		return nil, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object or null, got %s", jsonType(raw))
	}
	code, ok := obj["code"].(string)
	if !ok || code == "" {
		return nil, errors.New("code: want a non-empty string")
	}
	m, known := c.remedies[code]
	if !known {
		return nil, fmt.Errorf("code %q is not in the catalog's remedies", code)
	}
	checkpoint, err := optionalString(obj, "checkpoint")
	if err != nil {
		return nil, err
	}
	if checkpoint != "" {
		m.Checkpoint = checkpoint
	}
	return &m, nil
}

// parseReview reads the review member {codes, sla}: each code one of the
// verdict's reasons, sla "" or a positive duration. null is no review.
func parseReview(raw any, reasons []decision.Reason) (*decision.Review, error) {
	if raw == nil {
		return nil, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object or null, got %s", jsonType(raw))
	}
	list, ok := obj["codes"].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("codes: want a non-empty array, got %s", jsonType(obj["codes"]))
	}
	r := &decision.Review{Codes: make([]string, 0, len(list))}
	for i, e := range list {
		code, ok := e.(string)
		if !ok || code == "" {
			return nil, fmt.Errorf("codes[%d]: want a non-empty string, got %s", i, jsonType(e))
		}
		if !slices.ContainsFunc(reasons, func(x decision.Reason) bool { return x.Code == code }) {
			return nil, fmt.Errorf("codes[%d]: %q is not one of the decision's reasons", i, code)
		}
		r.Codes = append(r.Codes, code)
	}
	sla, present := obj["sla"]
	if !present {
		sla = ""
	}
	var err error
	if r.SLA, err = parseDuration(sla); err != nil {
		return nil, fmt.Errorf("sla: %w", err)
	}
	return r, nil
}

// parseSuppressed reads the reasons an earlier overturn cleared.
func parseSuppressed(raw any) ([]decision.Suppressed, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("suppressed: want an array, got %s", jsonType(raw))
	}
	out := make([]decision.Suppressed, 0, len(list))
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("suppressed[%d]: want an object, got %s", i, jsonType(e))
		}
		var s decision.Suppressed
		var err error
		if s.Code, err = requiredString(obj, "code"); err != nil {
			return nil, fmt.Errorf("suppressed[%d]: %w", i, err)
		}
		if s.Action, err = parseAction(obj["action"]); err != nil {
			return nil, fmt.Errorf("suppressed[%d] (%s): action: %w", i, s.Code, err)
		}
		for _, k := range []struct {
			dst  *string
			name string
		}{{&s.Rule, "rule"}, {&s.ClearedByAppeal, "cleared_by_appeal"}, {&s.OverturnedDecision, "overturned_decision"}} {
			if *k.dst, err = optionalString(obj, k.name); err != nil {
				return nil, fmt.Errorf("suppressed[%d] (%s): %w", i, s.Code, err)
			}
		}
		if s.Evidence, err = parseEvidence(obj["evidence"]); err != nil {
			return nil, fmt.Errorf("suppressed[%d] (%s): evidence: %w", i, s.Code, err)
		}
		if u, _ := obj["until"].(string); u != "" {
			if s.Until, err = time.Parse(time.RFC3339, u); err != nil {
				return nil, fmt.Errorf("suppressed[%d] (%s): until: %w", i, s.Code, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}
