package bundles

import (
	"context"
	"testing"
)

func BenchmarkEvaluate(b *testing.B) {
	cases := []struct {
		name  string
		input map[string]any
	}{
		{"allow", signupInput(nil, nil)},
		{"challenge", signupInput(disposable(), nil)},
		{"restrict", signupInput(disposable(), map[string]any{"payout_name": "Someone Else"})},
	}
	for _, bundle := range []struct{ name, dir string }{{"fixture", fixtureDir}, {"policies", policiesDir}} {
		b.Run(bundle.name, func(b *testing.B) {
			if bundle.dir == policiesDir {
				requirePolicies(b)
			}
			e := startEngine(b, Config{Source: bundle.dir})
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					ctx := context.Background()
					if _, err := e.Evaluate(ctx, c.input); err != nil {
						b.Fatalf("Evaluate() error = %v", err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := e.Evaluate(ctx, c.input); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
