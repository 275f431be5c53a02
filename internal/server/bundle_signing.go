package server

import (
	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/internal/config"
)

// policySigning is the bundle verification the configuration asks for: nil
// when no key is set (Validate has then made sure signing is not required).
func policySigning(p config.PolicyConfig) (*bundles.Signing, error) {
	key, err := p.SigningKey()
	if err != nil || key == "" {
		return nil, err
	}
	return &bundles.Signing{
		KeyID:     p.Signing.KeyID,
		PublicKey: key,
		Algorithm: p.Signing.Algorithm,
		Required:  p.SigningRequired(),
	}, nil
}

// onBundleLoad is bundles.Config.OnLoad: it counts each attempt to load a
// bundle by role and result.
func (m *metrics) onBundleLoad(r bundles.LoadResult) {
	result := "activated"
	if !r.Activated {
		result = "refused"
	}
	m.bundles.WithLabelValues(r.Role, result).Inc()
}
