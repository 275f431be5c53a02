// Command train generates a synthetic labelled marketplace (honest users and
// fraud rings, see synth.go), trains the fraud model on three quarters of it,
// evaluates it on the rest, and writes model.json and EVALUATION.md for the
// model detector. The same flags always write the same bytes.
//
//	go run ./plugins/detectors/model/train -out plugins/detectors/model
package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
)

// trainConfig is the trainer's command line.
type trainConfig struct {
	GenConfig
	L2        float64
	TestShare float64
	Threshold float64
	// Outcomes are labelled decisions exported from a ledger (gavel
	// outcomes export), from OutcomesFile; a quarter (by a hash of the
	// decision id) is held out, the rest trains beside the synthetic set,
	// each counted OutcomeWeight times.
	Outcomes      []fraudmodel.Outcome
	OutcomesFile  string
	OutcomeWeight int
}

func defaultConfig() trainConfig {
	return trainConfig{
		GenConfig: GenConfig{Seed: 20250301, N: 40000, FraudRate: 0.12, LabelNoise: 0.03},
		L2:        1e-3,
		TestShare: 0.25,
		Threshold: 0.5,

		OutcomeWeight: 5,
	}
}

func main() {
	cfg := defaultConfig()
	out := flag.String("out", "plugins/detectors/model", "folder to write EVALUATION.md to, and fraudmodel/model.json under it")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "generator seed")
	flag.IntVar(&cfg.N, "n", cfg.N, "accounts to generate")
	flag.Float64Var(&cfg.FraudRate, "fraud-rate", cfg.FraudRate, "share of ring accounts")
	flag.Float64Var(&cfg.LabelNoise, "label-noise", cfg.LabelNoise, "share of labels flipped")
	flag.Float64Var(&cfg.L2, "l2", cfg.L2, "L2 penalty on the standardised coefficients")
	flag.Float64Var(&cfg.TestShare, "test-share", cfg.TestShare, "share held out for evaluation")
	flag.Float64Var(&cfg.Threshold, "threshold", cfg.Threshold, "operating threshold the evaluation reports")
	flag.StringVar(&cfg.OutcomesFile, "outcomes", "", "also train on labelled outcomes exported from a ledger (gavel outcomes export)")
	flag.IntVar(&cfg.OutcomeWeight, "outcome-weight", cfg.OutcomeWeight, "how many synthetic examples one labelled outcome counts for")
	flag.Parse()
	if cfg.OutcomesFile != "" {
		f, err := os.Open(cfg.OutcomesFile)
		if err == nil {
			cfg.Outcomes, err = fraudmodel.ReadOutcomes(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "train: -outcomes:", err)
			os.Exit(2)
		}
	}
	start := time.Now()
	modelJSON, report, e, err := train(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
	for name, data := range map[string][]byte{"fraudmodel/model.json": modelJSON, "EVALUATION.md": []byte(report)} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "train:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "trained on %d accounts in %v: test AUC %.4f, precision %.3f and recall %.3f at %.2f; wrote %s\n",
		cfg.N, time.Since(start).Round(time.Millisecond), e.AUC, e.At.Precision(), e.At.Recall(), cfg.Threshold, *out)
}

type modelSummary struct {
	version              string
	features, iterations int
	train, test          int
	trainRate            float64
	coefs                []namedCoef
}

type namedCoef struct {
	name string
	coef float64
}

// train runs the whole pipeline and returns model.json, EVALUATION.md and
// the evaluation.
func train(cfg trainConfig) ([]byte, string, Evaluation, error) {
	if cfg.N < 100 {
		return nil, "", Evaluation{}, fmt.Errorf("-n %d: need at least 100 accounts", cfg.N)
	}
	data := Generate(cfg.GenConfig)
	nTest := int(float64(len(data)) * cfg.TestShare)
	trainSet, testSet := data[nTest:], data[:nTest] // generation order is already random
	xs, ys := features(trainSet)
	oTrain, oTest, err := splitOutcomes(cfg.Outcomes)
	if err != nil {
		return nil, "", Evaluation{}, err
	}
	for _, o := range oTrain {
		for range max(cfg.OutcomeWeight, 1) {
			xs = append(xs, o.x)
			ys = append(ys, o.y)
		}
	}
	means, scales := standardise(xs)
	zs := make([][]float64, len(xs))
	for i, x := range xs {
		zs[i] = make([]float64, len(x))
		for j, v := range x {
			if !math.IsNaN(v) {
				zs[i][j] = (v - means[j]) / scales[j]
			}
		}
	}
	coefs, intercept, iters, err := fitLogistic(zs, ys, cfg.L2)
	if err != nil {
		return nil, "", Evaluation{}, err
	}
	m := &fraudmodel.Model{
		Kind:         fraudmodel.Kind,
		Features:     fraudmodel.FeatureNames,
		Means:        roundAll(means),
		Scales:       roundAll(scales),
		Coefficients: roundAll(coefs),
		Intercept:    roundSig(intercept),
		Threshold:    cfg.Threshold,
	}
	txs, tys := features(testSet)
	ps := make([]float64, len(txs))
	for i, x := range txs {
		ps[i] = m.Score(x)
	}
	e := evaluate(ps, tys, cfg.Threshold, []float64{0.5, 0.7, 0.9})
	var eo *Evaluation
	if len(oTest) > 0 {
		ops, oys := make([]float64, len(oTest)), make([]float64, len(oTest))
		for i, o := range oTest {
			ops[i], oys[i] = m.Score(o.x), o.y
		}
		ev := evaluate(ops, oys, cfg.Threshold, []float64{0.5, 0.7, 0.9})
		eo = &ev
	}
	fraudTrain := 0.0
	for _, y := range ys {
		fraudTrain += y
	}
	m.Training = fraudmodel.Training{
		Generator:  "plugins/detectors/model/train (synthetic honest users and fraud rings)",
		Seed:       cfg.Seed,
		Accounts:   cfg.N,
		Train:      len(trainSet),
		Test:       len(testSet),
		FraudRate:  roundSig(fraudTrain / float64(len(ys))),
		LabelNoise: cfg.LabelNoise,
		L2:         cfg.L2,
		Iterations: iters,
		TestAUC:    math.Round(e.AUC*1e6) / 1e6,
	}
	if len(cfg.Outcomes) > 0 {
		m.Training.Outcomes, m.Training.OutcomesTest, m.Training.OutcomeWeight = len(oTrain), len(oTest), max(cfg.OutcomeWeight, 1)
	}
	// The version names the content: a different model gets a different one.
	body, err := json.Marshal(m)
	if err != nil {
		return nil, "", Evaluation{}, err
	}
	sum := sha256.Sum256(body)
	m.Version = "fraud-lr-" + hex.EncodeToString(sum[:4])
	if err := m.Validate(); err != nil {
		return nil, "", Evaluation{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, "", Evaluation{}, err
	}
	s := modelSummary{
		version: m.Version, features: fraudmodel.NumFeatures, iterations: iters,
		train: len(trainSet), test: len(testSet), trainRate: m.Training.FraudRate,
	}
	for i, name := range m.Features {
		s.coefs = append(s.coefs, namedCoef{name, m.Coefficients[i]})
	}
	slices.SortStableFunc(s.coefs, func(a, b namedCoef) int { return cmp.Compare(math.Abs(b.coef), math.Abs(a.coef)) })
	return buf.Bytes(), markdown(cfg, s, e) + outcomesMarkdown(cfg, len(oTrain), eo), e, nil
}

// labelled is one outcome's feature vector and label.
type labelled struct {
	x []float64
	y float64
}

// splitOutcomes holds out the outcomes whose decision id hashes into the
// last quarter, so the same export always splits the same way whatever its
// order.
func splitOutcomes(outs []fraudmodel.Outcome) (train, test []labelled, err error) {
	sorted := slices.Clone(outs)
	slices.SortFunc(sorted, func(a, b fraudmodel.Outcome) int { return cmp.Compare(a.DecisionID, b.DecisionID) })
	for _, o := range sorted {
		x, err := o.Vector()
		if err != nil {
			return nil, nil, err
		}
		l := labelled{x: x}
		if o.IsFraud() {
			l.y = 1
		}
		h := fnv.New32a()
		h.Write([]byte(o.DecisionID))
		if h.Sum32()%4 == 3 {
			test = append(test, l)
		} else {
			train = append(train, l)
		}
	}
	return train, test, nil
}

func features(exs []Example) (xs [][]float64, ys []float64) {
	for _, ex := range exs {
		xs = append(xs, fraudmodel.Extract(ex.Req, time.Time{}))
		ys = append(ys, map[bool]float64{true: 1}[ex.Fraud])
	}
	return xs, ys
}

// roundSig keeps 9 significant digits: the model file is stable to read and
// to diff, and last-bit floating-point differences between platforms do not
// reach it.
func roundSig(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 9, 64), 64)
	return v
}

func roundAll(fs []float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = roundSig(f)
	}
	return out
}
