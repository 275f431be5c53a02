package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Evaluation is the model's performance on the held-out set.
type Evaluation struct {
	AUC         float64
	Threshold   float64
	At          Confusion   // at Threshold
	Bands       []Confusion // at the policy's bands
	Calibration []Bin       // by decile of score
	Positives   int
	Negatives   int
}

// Confusion counts outcomes at a threshold (score ≥ threshold flags).
type Confusion struct {
	Threshold      float64
	TP, FP, TN, FN int
}

func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }
func (c Confusion) Recall() float64    { return ratio(c.TP, c.TP+c.FN) }
func (c Confusion) Flagged() int       { return c.TP + c.FP }

// Bin is one calibration decile.
type Bin struct {
	N                  int
	MinScore, MaxScore float64
	MeanScore          float64
	FraudRate          float64
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type scored struct {
	p     float64
	fraud bool
}

// evaluate scores a held-out set.
func evaluate(ps []float64, ys []float64, threshold float64, bands []float64) Evaluation {
	s := make([]scored, len(ps))
	for i := range ps {
		s[i] = scored{ps[i], ys[i] == 1}
	}
	slices.SortStableFunc(s, func(a, b scored) int { return cmp.Compare(a.p, b.p) })
	e := Evaluation{Threshold: threshold}
	for _, x := range s {
		if x.fraud {
			e.Positives++
		} else {
			e.Negatives++
		}
	}
	e.AUC = auc(s, e.Positives, e.Negatives)
	e.At = confusion(s, threshold)
	for _, b := range bands {
		e.Bands = append(e.Bands, confusion(s, b))
	}
	for d := range 10 {
		lo, hi := d*len(s)/10, (d+1)*len(s)/10
		if lo == hi {
			continue
		}
		bin := Bin{N: hi - lo, MinScore: s[lo].p, MaxScore: s[hi-1].p}
		frauds := 0
		for _, x := range s[lo:hi] {
			bin.MeanScore += x.p
			if x.fraud {
				frauds++
			}
		}
		bin.MeanScore /= float64(bin.N)
		bin.FraudRate = ratio(frauds, bin.N)
		e.Calibration = append(e.Calibration, bin)
	}
	return e
}

// auc is the Mann-Whitney statistic over s sorted by score, ties counted half.
func auc(s []scored, pos, neg int) float64 {
	if pos == 0 || neg == 0 {
		return 0.5
	}
	var rankSum float64
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].p == s[i].p {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if s[k].fraud {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

func confusion(s []scored, t float64) Confusion {
	c := Confusion{Threshold: t}
	for _, x := range s {
		switch {
		case x.p >= t && x.fraud:
			c.TP++
		case x.p >= t:
			c.FP++
		case x.fraud:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

// markdown renders EVALUATION.md. It holds no time or host detail, so the
// same seed writes the same file.
func markdown(cfg trainConfig, m modelSummary, e Evaluation) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Fraud model evaluation\n\n")
	w("Written by `make model` (`go run ./plugins/detectors/model/train`); do not edit by hand.\n")
	w("The data are synthetic: see `train/synth.go` for the distributions. These figures say the\n")
	w("trainer and the detector work and how the model behaves on data like its training data;\n")
	w("they say nothing about real marketplace traffic, where the model must be re-trained on\n")
	w("labelled decisions before its score is trusted.\n\n")
	w("| | |\n|---|---|\n")
	w("| model version | `%s` |\n", m.version)
	w("| kind | logistic regression, %d standardised features, L2 = %g, %d Newton iterations |\n", m.features, cfg.L2, m.iterations)
	w("| generator seed | %d |\n", cfg.Seed)
	w("| accounts | %d (train %d, held-out test %d) |\n", cfg.N, m.train, m.test)
	w("| fraud share (after label noise) | train %.3f, test %.3f |\n", m.trainRate, ratio(e.Positives, e.Positives+e.Negatives))
	w("| label noise | %.0f %% of labels flipped |\n", cfg.LabelNoise*100)
	w("| **test AUC** | **%.4f** |\n\n", e.AUC)

	w("## At the operating threshold %.2f\n\n", e.Threshold)
	w("| | predicted fraud | predicted honest |\n|---|---:|---:|\n")
	w("| fraud | %d | %d |\n| honest | %d | %d |\n\n", e.At.TP, e.At.FN, e.At.FP, e.At.TN)
	w("Precision %.3f, recall %.3f.\n\n", e.At.Precision(), e.At.Recall())

	w("## At the policy's bands\n\n")
	w("`policies/gavel/enforcement/model.rego`: ≥ 0.5 warn, ≥ 0.7 challenge, ≥ 0.9 restrict (suspend at signup).\n\n")
	w("| score ≥ | flagged | precision | recall |\n|---:|---:|---:|---:|\n")
	for _, c := range e.Bands {
		w("| %.1f | %d (%.1f %%) | %.3f | %.3f |\n", c.Threshold, c.Flagged(),
			100*ratio(c.Flagged(), e.Positives+e.Negatives), c.Precision(), c.Recall())
	}
	w("\n## Calibration by decile of score (test set)\n\n")
	w("| decile | accounts | scores | mean score | observed fraud rate |\n|---:|---:|---|---:|---:|\n")
	for i, bin := range e.Calibration {
		w("| %d | %d | %.3f–%.3f | %.3f | %.3f |\n", i+1, bin.N, bin.MinScore, bin.MaxScore, bin.MeanScore, bin.FraudRate)
	}
	w("\n## Coefficients (per standard deviation of the feature)\n\n")
	w("| feature | coefficient |\n|---|---:|\n")
	for _, c := range m.coefs {
		w("| `%s` | %+.3f |\n", c.name, c.coef)
	}
	w("\nReproduce: `make model` (seed %d, %d accounts) rewrites `model.json` and this file\n", cfg.Seed, cfg.N)
	w("byte for byte; `go test ./plugins/detectors/model/...` checks it.\n")
	return b.String()
}

// outcomesMarkdown is EVALUATION.md's section on labelled outcomes.
func outcomesMarkdown(cfg trainConfig, nTrain int, eo *Evaluation) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("\n## Labelled outcomes from the ledger\n\n")
	if len(cfg.Outcomes) == 0 {
		w("None: this model learnt from the synthetic generator alone. To learn from what reviewers\n")
		w("decided, export the decisions appeals resolved (upheld: fraud; overturned: honest) and retrain:\n\n")
		w("```sh\ngavel outcomes export --out outcomes.jsonl     # feature vectors and labels, no personal data\n")
		w("make model OUTCOMES=outcomes.jsonl\n```\n")
		return b.String()
	}
	fraud := 0
	for _, o := range cfg.Outcomes {
		if o.IsFraud() {
			fraud++
		}
	}
	w("| | |\n|---|---|\n")
	w("| file | `%s` |\n", cfg.OutcomesFile)
	w("| outcomes | %d (fraud %d, honest %d) |\n", len(cfg.Outcomes), fraud, len(cfg.Outcomes)-fraud)
	w("| trained on | %d, each counted %d times beside the synthetic set |\n", nTrain, max(cfg.OutcomeWeight, 1))
	w("| held out | %d (a quarter, by a hash of the decision id) |\n\n", len(cfg.Outcomes)-nTrain)
	w("Outcomes are decisions someone appealed: restrictive ones, a biased sample of traffic. They\n")
	w("measure how the model ranks contested cases, not its error rates on all traffic.\n\n")
	if eo == nil || eo.Positives == 0 || eo.Negatives == 0 {
		w("Too few held-out outcomes of both labels to evaluate on.\n")
		return b.String()
	}
	w("| held-out outcomes | AUC | precision at %.2f | recall at %.2f |\n|---:|---:|---:|---:|\n", eo.Threshold, eo.Threshold)
	w("| %d (fraud %d) | %.4f | %.3f | %.3f |\n\n", eo.Positives+eo.Negatives, eo.Positives, eo.AUC, eo.At.Precision(), eo.At.Recall())
	w("| score ≥ | flagged | precision | recall |\n|---:|---:|---:|---:|\n")
	for _, c := range eo.Bands {
		w("| %.1f | %d | %.3f | %.3f |\n", c.Threshold, c.Flagged(), c.Precision(), c.Recall())
	}
	return b.String()
}
