package server

import (
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/gavel/gavel/decision"
)

// invalidArgument names every bad field in the message and, for clients that
// read details, as a google.rpc.BadRequest.
func invalidArgument(verr decision.ValidationError) error {
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New(verr.Error()))
	br := &errdetails.BadRequest{}
	for _, f := range verr {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Reason})
	}
	if d, err := connect.NewErrorDetail(br); err == nil {
		cerr.AddDetail(d)
	}
	return cerr
}
