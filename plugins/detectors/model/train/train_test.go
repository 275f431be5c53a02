package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestTrainSmallSetSeparatesFraud(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.N = 4000
	_, _, e, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.AUC <= 0.75 {
		t.Errorf("test AUC = %.4f, want > 0.75", e.AUC)
	}
	if e.Positives == 0 || e.Negatives == 0 {
		t.Errorf("test set has %d fraud and %d honest accounts, want both", e.Positives, e.Negatives)
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.N = 2000
	m1, r1, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m2, r2, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m1, m2) || r1 != r2 {
		t.Error("two runs with the same seed wrote different files")
	}
	cfg.Seed++
	m3, _, _, err := train(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(m1, m3) {
		t.Error("a different seed wrote the same model")
	}
}

// TestShippedModelIsReproducible re-runs `make model` in memory and compares
// with the committed files: whoever changes the features, the generator or
// the trainer must retrain.
func TestShippedModelIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the full data set")
	}
	t.Parallel()
	modelJSON, report, _, err := train(defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"fraudmodel/model.json": modelJSON, "EVALUATION.md": []byte(report)} {
		got, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the trainer writes with the default seed: run make model", name)
		}
	}
}

func TestAUC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ps   []float64
		ys   []float64
		want float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}, 0.5},
		{"one swap", []float64{0.1, 0.3, 0.2, 0.9}, []float64{0, 0, 1, 1}, 0.75},
	} {
		if got := evaluate(tc.ps, tc.ys, 0.5, nil).AUC; got != tc.want {
			t.Errorf("%s: AUC = %v, want %v", tc.name, got, tc.want)
		}
	}
}
