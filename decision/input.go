package decision

import (
	"time"
)

// Input builds the document the policy evaluates (input.* in Rego). Its shape
// is documented by policies/input.schema.json. Values are plain JSON types
// (map[string]any, []any, string, float64, bool) so the policy engine can
// convert them without a JSON round trip.
func Input(req *Request, detectors []DetectorResult, signals []Signal, hist History, now time.Time) map[string]any {
	subject := map[string]any{
		"id":      req.Subject.ID,
		"kind":    req.Subject.Kind,
		"profile": profileDoc(&req.Subject.Profile),
	}
	if !req.Subject.CreatedAt.IsZero() {
		subject["created_at"] = req.Subject.CreatedAt.UTC().Format(time.RFC3339)
		subject["age_days"] = now.Sub(req.Subject.CreatedAt).Hours() / 24
	} else {
		subject["age_days"] = 0.0
	}

	sig := make(map[string]any, len(signals))
	for i := range signals {
		s := &signals[i]
		if prev, ok := sig[s.Name].(map[string]any); ok && prev["score"].(float64) >= s.Score {
			continue // keep the strongest observation of a name
		}
		d := map[string]any{
			"score":      s.Score,
			"value":      s.Value,
			"confidence": s.Confidence,
			"source":     s.Source,
		}
		if s.Evidence != nil {
			d["evidence"] = s.Evidence
		} else {
			d["evidence"] = map[string]any{}
		}
		sig[s.Name] = d
	}

	det := make(map[string]any, len(detectors))
	for _, d := range detectors {
		det[d.Name] = map[string]any{
			"status":     string(d.Status),
			"version":    d.Version,
			"latency_ms": float64(d.Latency.Microseconds()) / 1000,
		}
	}

	attrs := req.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return map[string]any{
		"subject":    subject,
		"checkpoint": req.Checkpoint,
		"context": map[string]any{
			"ip":         req.Context.IP,
			"device_id":  req.Context.DeviceID,
			"user_agent": req.Context.UserAgent,
			"session_id": req.Context.SessionID,
		},
		"attributes":  attrs,
		"signals":     sig,
		"detectors":   det,
		"history":     historyDoc(&hist, now),
		"now":         now.UTC().Format(time.RFC3339Nano),
		"occurred_at": req.EventTime(now).UTC().Format(time.RFC3339Nano),
		"now_ns":      float64(now.UnixNano()),
		"dry_run":     req.DryRun,
	}
}

func profileDoc(p *Profile) map[string]any {
	return map[string]any{
		"given_name":    p.GivenName,
		"family_name":   p.FamilyName,
		"display_name":  p.DisplayName,
		"country":       p.Country,
		"email":         p.Email,
		"phone":         p.Phone,
		"date_of_birth": p.DateOfBirth,
	}
}

func historyDoc(h *History, now time.Time) map[string]any {
	holds := make([]any, 0, len(h.Holds))
	for _, x := range h.Holds {
		d := map[string]any{
			"capability":  x.Capability,
			"since":       x.Since.UTC().Format(time.RFC3339),
			"decision_id": x.DecisionID,
			"remedy":      x.Remedy,
		}
		if !x.Until.IsZero() {
			d["until"] = x.Until.UTC().Format(time.RFC3339)
		}
		holds = append(holds, d)
	}
	codes := make([]any, 0, len(h.StrikeCode))
	for _, c := range h.StrikeCode {
		codes = append(codes, c)
	}
	recent := make([]any, 0, len(h.Recent))
	for _, p := range h.Recent {
		pc := make([]any, 0, len(p.Codes))
		for _, c := range p.Codes {
			pc = append(pc, c)
		}
		recent = append(recent, map[string]any{
			"decision_id": p.DecisionID,
			"checkpoint":  p.Checkpoint,
			"action":      p.Action.String(),
			"codes":       pc,
			"decided_at":  p.DecidedAt.UTC().Format(time.RFC3339),
			"age_hours":   now.Sub(p.DecidedAt).Hours(),
			"overturned":  p.Overturned,
		})
	}
	cleared := make([]any, 0, len(h.Cleared))
	for _, c := range h.Cleared {
		ev := make([]any, 0, len(c.Evidence))
		for _, e := range c.Evidence {
			ev = append(ev, e)
		}
		d := map[string]any{
			"code":        c.Code,
			"evidence":    ev,
			"until":       c.Until.UTC().Format(time.RFC3339),
			"appeal_id":   c.AppealID,
			"decision_id": c.DecisionID,
		}
		if c.Rule != "" {
			d["rule"] = c.Rule
		}
		cleared = append(cleared, d)
	}
	return map[string]any{
		"holds":             holds,
		"suspended":         h.Suspended,
		"suspension_source": h.SuspensionSource,
		"cleared":           cleared,
		"strikes":           map[string]any{"count": float64(h.Strikes), "codes": codes},
		"recent":            recent,
		"overturned":        float64(h.Overturned),
	}
}
