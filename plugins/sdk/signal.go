package sdk

import (
	"fmt"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// NewSignal returns a signal. name is dotted lower case ("email.disposable"),
// score and confidence are in 0..1. Evidence values may be nil, bool, numbers,
// strings, []byte, time.Time, slices and maps of those; a value that cannot be
// carried (another type, or a NaN or infinite number anywhere inside it) is
// dropped and logged, never a panic. The host rejects the whole response if a
// signal is out of range, so keep scores honest.
func NewSignal(name string, score float64, value string, evidence map[string]any, confidence float64) *detectorv1.Signal {
	s := &detectorv1.Signal{Name: name, Score: score, Value: value, Confidence: confidence}
	if len(evidence) == 0 {
		return s
	}
	fields := make(map[string]*structpb.Value, len(evidence))
	for k, v := range evidence {
		pv, err := toValue(v, 0)
		if err != nil {
			if _, seen := dropped.LoadOrStore(name+"\x00"+k, true); !seen {
				Logger().Warn("dropping evidence value (logged once per signal and key)",
					"signal", name, "key", k, "error", err)
			}
			continue
		}
		fields[k] = pv
	}
	s.Evidence = &structpb.Struct{Fields: fields}
	return s
}

const maxEvidenceDepth = 8

// dropped remembers which signal evidence keys were already reported.
var dropped sync.Map

// toValue converts v to a protobuf value, rejecting non-finite numbers and
// trees deeper than the host accepts.
func toValue(v any, depth int) (*structpb.Value, error) {
	if depth >= maxEvidenceDepth {
		return nil, fmt.Errorf("nests deeper than %d levels", maxEvidenceDepth)
	}
	switch t := v.(type) {
	case float64:
		return number(t)
	case float32:
		return number(float64(t))
	case time.Time:
		return structpb.NewStringValue(t.UTC().Format(time.RFC3339Nano)), nil
	case time.Duration:
		return structpb.NewStringValue(t.String()), nil
	case []string:
		return list(len(t), func(i int) any { return t[i] }, depth)
	case []int:
		return list(len(t), func(i int) any { return t[i] }, depth)
	case []int64:
		return list(len(t), func(i int) any { return t[i] }, depth)
	case []float64:
		return list(len(t), func(i int) any { return t[i] }, depth)
	case []bool:
		return list(len(t), func(i int) any { return t[i] }, depth)
	case []any:
		return list(len(t), func(i int) any { return t[i] }, depth)
	case map[string]string:
		fields := make(map[string]*structpb.Value, len(t))
		for k, e := range t {
			fields[k] = structpb.NewStringValue(e)
		}
		return structpb.NewStructValue(&structpb.Struct{Fields: fields}), nil
	case map[string]any:
		fields := make(map[string]*structpb.Value, len(t))
		for k, e := range t {
			pv, err := toValue(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			fields[k] = pv
		}
		return structpb.NewStructValue(&structpb.Struct{Fields: fields}), nil
	}
	pv, err := structpb.NewValue(v)
	if err != nil {
		return nil, err
	}
	if n, ok := pv.Kind.(*structpb.Value_NumberValue); ok {
		return number(n.NumberValue)
	}
	return pv, nil
}

func number(f float64) (*structpb.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %v is not finite", f)
	}
	return structpb.NewNumberValue(f), nil
}

func list(n int, at func(int) any, depth int) (*structpb.Value, error) {
	vals := make([]*structpb.Value, n)
	for i := range n {
		pv, err := toValue(at(i), depth+1)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		vals[i] = pv
	}
	return structpb.NewListValue(&structpb.ListValue{Values: vals}), nil
}
