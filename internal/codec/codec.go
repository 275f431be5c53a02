// Package codec is the Connect codecs gavel serves with: protobuf binary and
// JSON like connect-go's own, but with a bounded recursion depth, so a small
// request nested thousands of levels deep is refused while it is decoded
// instead of costing memory in proportion to its depth (protobuf-go's
// default limit is 10,000 levels).
package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Options returns the handler options that install both codecs, bounded
// so that attributes and evidence nested a little deeper than maxDepth
// (gavel's own attribute depth limit) still decode — the validator then
// names the field — and anything deeper fails while it is decoded.
func Options(maxDepth int) []connect.HandlerOption {
	pl, jl := ProtoLimit(maxDepth), JSONLimit(maxDepth)
	return []connect.HandlerOption{
		connect.WithCodec(&Proto{Limit: pl}),
		connect.WithCodec(&JSON{Limit: jl, name: "json"}),
		connect.WithCodec(&JSON{Limit: jl, name: "json; charset=utf-8"}),
	}
}

// envelope is the request's own message levels around its attributes or
// a signal's evidence (DecideRequest → Signal → Struct), plus one level of
// slack so the validator, not the codec, reports maxDepth+1.
const envelope = 4

// ProtoLimit is the binary recursion limit for maxDepth: protobuf-go counts
// three message levels per Struct level (the Struct, its map entry, the
// Value).
func ProtoLimit(maxDepth int) int { return 3*(maxDepth+1) + envelope }

// JSONLimit is the JSON recursion limit for maxDepth: protojson counts one
// level per nested object.
func JSONLimit(maxDepth int) int { return maxDepth + envelope }

var errNotProto = errors.New("not a protobuf message")

// Proto is the binary protobuf codec with a recursion limit.
type Proto struct{ Limit int }

// Name implements connect.Codec.
func (c *Proto) Name() string { return "proto" }

// IsBinary reports that this codec's output is binary.
func (c *Proto) IsBinary() bool { return true }

// Marshal implements connect.Codec.
func (c *Proto) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errNotProto, m)
	}
	return proto.Marshal(pm)
}

// MarshalAppend appends m's encoding to b. connect-go marshals into a
// pooled buffer through it; without it every message is a new slice.
func (c *Proto) MarshalAppend(b []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errNotProto, m)
	}
	return proto.MarshalOptions{}.MarshalAppend(b, pm)
}

// MarshalStable is Marshal with deterministic map order.
func (c *Proto) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errNotProto, m)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

// Unmarshal implements connect.Codec.
func (c *Proto) Unmarshal(data []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%w: %T", errNotProto, m)
	}
	if err := (proto.UnmarshalOptions{RecursionLimit: c.Limit}).Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// JSON is the protobuf JSON codec with a recursion limit. Unknown fields
// are discarded, as connect-go's own codec does.
type JSON struct {
	Limit int
	name  string
}

// Name implements connect.Codec.
func (c *JSON) Name() string { return c.name }

// IsBinary reports that this codec's output is text.
func (c *JSON) IsBinary() bool { return false }

// Marshal implements connect.Codec.
func (c *JSON) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errNotProto, m)
	}
	return protojson.Marshal(pm)
}

// MarshalAppend appends m's encoding to b, as Proto's does.
func (c *JSON) MarshalAppend(b []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errNotProto, m)
	}
	return protojson.MarshalOptions{}.MarshalAppend(b, pm)
}

// MarshalStable is Marshal without protojson's random whitespace.
func (c *JSON) MarshalStable(m any) ([]byte, error) {
	b, err := c.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Unmarshal implements connect.Codec.
func (c *JSON) Unmarshal(data []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%w: %T", errNotProto, m)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: c.Limit}
	if err := opts.Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}
