package sdk

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

type plainDetector struct{}

func (plainDetector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{Signals: []string{"x.y"}}, nil
}

func (plainDetector) Detect(context.Context, *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	return nil, nil
}

type observingDetector struct {
	plainDetector
	got []*detectorv1.ObserveRequest
	err error
}

func (o *observingDetector) Observe(_ context.Context, req *detectorv1.ObserveRequest) error {
	if req.GetDecisionId() == "panic" {
		panic("observer bug")
	}
	o.got = append(o.got, req)
	return o.err
}

func TestObserveDispatch(t *testing.T) {
	ctx := context.Background()
	req := &detectorv1.ObserveRequest{DecisionId: "d-1", Action: "suspend"}

	if _, err := (&server{d: plainDetector{}}).Observe(ctx, req); status.Code(err) != codes.Unimplemented {
		t.Errorf("Observe on a detector without Observer = %v, want Unimplemented", err)
	}

	o := &observingDetector{}
	s := &server{d: o}
	if resp, err := s.Observe(ctx, req); err != nil || resp == nil {
		t.Errorf("Observe(%v) = %v, %v, want an empty response", req, resp, err)
	}
	if len(o.got) != 1 || o.got[0].GetDecisionId() != "d-1" {
		t.Errorf("Observer got %v, want the one request", o.got)
	}
	o.err = status.Error(codes.Unavailable, "store down")
	if _, err := s.Observe(ctx, req); status.Code(err) != codes.Unavailable {
		t.Errorf("Observe with a failing Observer = %v, want its Unavailable", err)
	}
	_, err := s.Observe(ctx, &detectorv1.ObserveRequest{DecisionId: "panic"})
	if status.Code(err) != codes.Internal || errors.Is(err, context.Canceled) {
		t.Errorf("Observe with a panicking Observer = %v, want Internal", err)
	}
}
