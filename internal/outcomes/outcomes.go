// Package outcomes exports labelled outcomes from the ledger for the fraud
// model's trainer, in the format fraudmodel.Outcome describes (`gavel outcomes export`, then `make model
// OUTCOMES=file`): each decision an appeal resolved, labelled fraud when the
// appeal upheld it and honest when it overturned it, as the model's feature
// vector (fraudmodel.Extract over the stored input document). The export
// carries no personal data: no names, emails, phones, IPs or device ids,
// only the features computed from them, the decision id and its time.
package outcomes

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Where labels come from.
const (
	SourceAppealUpheld     = "appeal_upheld"
	SourceAppealOverturned = "appeal_overturned"
)

// Scanner reads stored decisions in bulk (*ledger.Ledger).
type Scanner interface {
	Scan(ctx context.Context, f ledger.Filter, pageSize int) iter.Seq2[*ledger.Stored, error]
}

// Counts says what an export wrote and left out.
type Counts struct {
	Fraud, Honest int
	// Unresolved decisions (never appealed, or the appeal still open) are
	// not outcomes; Skipped ones were resolved but cannot be used: a dry
	// run, a fallback, or stored without its input or claimed profile.
	Unresolved, Skipped int
}

// Export writes the labelled outcomes of the decisions f selects to w, one
// JSON line each, in the ledger's order (decision time, then id).
func Export(ctx context.Context, s Scanner, f ledger.Filter, w io.Writer) (Counts, error) {
	var c Counts
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for st, err := range s.Scan(ctx, f, 500) {
		if err != nil {
			return c, fmt.Errorf("export outcomes: %w", err)
		}
		var label, source string
		switch st.Outcome {
		case ledger.OutcomeUpheld:
			label, source = fraudmodel.LabelFraud, SourceAppealUpheld
		case ledger.OutcomeOverturned:
			label, source = fraudmodel.LabelHonest, SourceAppealOverturned
		default:
			c.Unresolved++
			continue
		}
		rec := st.Record
		req, ok := RequestFromInput(rec.Input)
		if rec.DryRun || rec.Fallback || !ok {
			c.Skipped++
			continue
		}
		ex := fraudmodel.Outcome{DecisionID: rec.DecisionID, DecidedAt: rec.DecidedAt.UTC(), Checkpoint: rec.Checkpoint,
			Label: label, Source: source, Features: map[string]*float64{}}
		for i, v := range fraudmodel.Extract(req, rec.DecidedAt) {
			if math.IsNaN(v) {
				ex.Features[fraudmodel.FeatureNames[i]] = nil
				continue
			}
			ex.Features[fraudmodel.FeatureNames[i]] = &v
		}
		if err := enc.Encode(ex); err != nil {
			return c, fmt.Errorf("export outcomes: %w", err)
		}
		if label == fraudmodel.LabelFraud {
			c.Fraud++
		} else {
			c.Honest++
		}
	}
	if err := bw.Flush(); err != nil {
		return c, fmt.Errorf("export outcomes: %w", err)
	}
	return c, nil
}

// RequestFromInput rebuilds the detector request a stored input document
// was made from, as far as the model reads it. It reports false when the
// document lacks the claimed profile (ledger.store_input false), without
// which the features would describe someone who claimed nothing.
func RequestFromInput(in map[string]any) (*detectorv1.DetectRequest, bool) {
	subj, _ := in["subject"].(map[string]any)
	prof, ok := subj["profile"].(map[string]any)
	if !ok {
		return nil, false
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	req := &detectorv1.DetectRequest{
		Checkpoint: str(in, "checkpoint"),
		Subject: &detectorv1.Subject{Id: str(subj, "id"), Kind: str(subj, "kind"), Profile: &detectorv1.Profile{
			GivenName: str(prof, "given_name"), FamilyName: str(prof, "family_name"), DisplayName: str(prof, "display_name"),
			Country: str(prof, "country"), Email: str(prof, "email"), Phone: str(prof, "phone"), DateOfBirth: str(prof, "date_of_birth"),
		}},
		Context: &detectorv1.Context{},
	}
	if t, err := time.Parse(time.RFC3339, str(subj, "created_at")); err == nil {
		req.Subject.CreatedAt = timestamppb.New(t)
	}
	if c, ok := in["context"].(map[string]any); ok {
		req.Context = &detectorv1.Context{Ip: str(c, "ip"), DeviceId: str(c, "device_id"), UserAgent: str(c, "user_agent"), SessionId: str(c, "session_id")}
	}
	if a, ok := in["attributes"].(map[string]any); ok && len(a) > 0 {
		if s, err := structpb.NewStruct(a); err == nil {
			req.Attributes = s
		}
	}
	for _, k := range []string{"occurred_at", "now"} {
		if t, err := time.Parse(time.RFC3339Nano, str(in, k)); err == nil {
			req.Now = timestamppb.New(t)
			break
		}
	}
	return req, true
}
