package main

import (
	"errors"
	"math"

	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
)

// Why logistic regression: its score is a calibrated probability without a
// separate calibration step (the policy bands the score as a probability),
// each score decomposes exactly into per-feature log-odds contributions a
// reviewer can read, and Newton's method on a few dozen features converges in
// a handful of deterministic iterations, so the model file is reproducible
// byte for byte. Trees would catch interactions; the features that matter as
// interactions (a new account at a payout) are computed explicitly instead.

// standardise returns each feature's mean and standard deviation over xs
// (1 when a feature is constant, so it standardises to 0). Unknown values
// (NaN: a labelled outcome without an account age) are left out, and
// standardise to 0, the mean, as the detector scores them.
func standardise(xs [][]float64) (means, scales []float64) {
	d := len(xs[0])
	means, scales = make([]float64, d), make([]float64, d)
	known := make([]float64, d)
	for _, x := range xs {
		for j, v := range x {
			if !math.IsNaN(v) {
				means[j] += v
				known[j]++
			}
		}
	}
	for j := range means {
		means[j] /= max(known[j], 1)
	}
	for _, x := range xs {
		for j, v := range x {
			if !math.IsNaN(v) {
				scales[j] += (v - means[j]) * (v - means[j])
			}
		}
	}
	for j := range scales {
		scales[j] = math.Sqrt(scales[j] / max(known[j], 1))
		if scales[j] < 1e-9 {
			scales[j] = 1
		}
	}
	return means, scales
}

// fitLogistic minimises the mean log loss plus l2/2·‖w‖² (the intercept is
// not penalised) over standardised zs with Newton's method. It returns the
// coefficients, the intercept and the iterations used.
func fitLogistic(zs [][]float64, ys []float64, l2 float64) ([]float64, float64, int, error) {
	n, d := len(zs), len(zs[0])
	k := d + 1 // the intercept is the last parameter
	w := make([]float64, k)
	for it := 1; it <= 100; it++ {
		grad := make([]float64, k)
		hess := make([][]float64, k)
		for i := range hess {
			hess[i] = make([]float64, k)
		}
		row := make([]float64, k)
		for i, z := range zs {
			copy(row, z)
			row[d] = 1
			eta := 0.0
			for j, v := range row {
				eta += w[j] * v
			}
			p := fraudmodel.Sigmoid(eta)
			r, s := p-ys[i], p*(1-p)
			for a, va := range row {
				grad[a] += r * va
				if va == 0 {
					continue
				}
				for b := 0; b <= a; b++ {
					hess[a][b] += s * va * row[b]
				}
			}
		}
		for a := range k {
			grad[a] /= float64(n)
			for b := 0; b <= a; b++ {
				hess[a][b] /= float64(n)
				hess[b][a] = hess[a][b]
			}
			if a < d {
				grad[a] += l2 * w[a]
				hess[a][a] += l2
			}
		}
		step, err := cholSolve(hess, grad)
		if err != nil {
			return nil, 0, it, err
		}
		worst := 0.0
		for j := range w {
			w[j] -= step[j]
			worst = max(worst, math.Abs(step[j]))
		}
		if worst < 1e-10 {
			return w[:d], w[d], it, nil
		}
	}
	return nil, 0, 100, errors.New("newton did not converge in 100 iterations")
}

// cholSolve solves A·x = b for a symmetric positive definite A.
func cholSolve(a [][]float64, b []float64) ([]float64, error) {
	n := len(a)
	l := make([][]float64, n)
	for i := range l {
		l[i] = make([]float64, n)
	}
	for i := range n {
		for j := 0; j <= i; j++ {
			sum := a[i][j]
			for k := range j {
				sum -= l[i][k] * l[j][k]
			}
			if i == j {
				if sum <= 0 {
					return nil, errors.New("hessian is not positive definite (increase -l2)")
				}
				l[i][i] = math.Sqrt(sum)
			} else {
				l[i][j] = sum / l[j][j]
			}
		}
	}
	y := make([]float64, n)
	for i := range n {
		sum := b[i]
		for k := range i {
			sum -= l[i][k] * y[k]
		}
		y[i] = sum / l[i][i]
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		sum := y[i]
		for k := i + 1; k < n; k++ {
			sum -= l[k][i] * x[k]
		}
		x[i] = sum / l[i][i]
	}
	return x, nil
}
