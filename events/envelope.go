package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// ContentType is the media type of a structured-mode CloudEvent in JSON.
const ContentType = "application/cloudevents+json; charset=utf-8"

// Envelope returns e as a CloudEvents 1.0 event in structured JSON mode:
// id, source, type, subject, time, datacontenttype application/json, the
// data, and the sequence extension (the outbox's number, zero-padded so
// that it orders as text), validated by the CloudEvents SDK.
func Envelope(source string, e Event) ([]byte, error) {
	ce := cloudevents.New(cloudevents.CloudEventsVersionV1)
	ce.SetID(e.ID)
	ce.SetSource(source)
	ce.SetType(e.Type)
	ce.SetSubject(e.Subject)
	ce.SetTime(e.Time.UTC())
	ce.SetExtension("sequence", fmt.Sprintf("%020d", e.Seq))
	data := []byte(e.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if err := ce.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if err := ce.Validate(); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	b, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return b, nil
}

// Signer signs requests per the Standard Webhooks scheme with one or more
// secrets: webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one
// signature per secret separated by spaces, so a receiver that knows any
// one of the secrets verifies the request while a secret is rotated.
type Signer struct {
	hooks []*standardwebhooks.Webhook
}

// NewSigner returns a signer for the secrets (each "whsec_" and base64).
func NewSigner(secrets []Secret) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("no signing secret")
	}
	s := &Signer{}
	for i, sec := range secrets {
		if _, err := sec.key(); err != nil {
			return nil, fmt.Errorf("secret %d %w", i, err)
		}
		wh, err := standardwebhooks.NewWebhook(string(sec))
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		s.hooks = append(s.hooks, wh)
	}
	return s, nil
}

// Sign sets the Standard Webhooks headers of a request carrying body.
func (s *Signer) Sign(h http.Header, id string, at time.Time, body []byte) error {
	sigs := make([]string, 0, len(s.hooks))
	for _, wh := range s.hooks {
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
