package config

import (
	"strings"
	"testing"
	"time"
)

func TestShadowPolicy(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.ShadowPolicy(); ok {
		t.Errorf("ShadowPolicy() on defaults = on, want off")
	}

	cfg, err = load(t, nil, nil, "policy:\n  polling: {min: 15s, max: 40s}\n  shadow:\n    source: /srv/bundles/candidate.tar.gz\n")
	if err != nil {
		t.Fatal(err)
	}
	sh, ok := cfg.ShadowPolicy()
	want := ShadowConfig{Source: "/srv/bundles/candidate.tar.gz", Entrypoint: "data.gavel.enforcement.decision",
		Polling: PollingConfig{Min: 15 * time.Second, Max: 40 * time.Second}}
	if !ok || sh != want {
		t.Errorf("ShadowPolicy() = %+v, %v; want %+v, on (policy's entry point and polling)", sh, ok, want)
	}

	_, err = load(t, nil, []string{"GAVEL_POLICY__SHADOW__SOURCE=embedded", "GAVEL_POLICY__SHADOW__ENTRYPOINT=gavel.x",
		"GAVEL_POLICY__SHADOW__POLLING__MIN=10ms"}, "")
	for _, key := range []string{"policy.shadow.source", "policy.shadow.entrypoint", "policy.shadow.polling.min"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Load(bad shadow) = %v, want a problem naming %s", err, key)
		}
	}
}
