package personname

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Ways a holder name token matched a claimed name token, weakest last.
const (
	HowExact    = "exact"    // the same after folding script, diacritics and case
	HowSpelling = "spelling" // another romanisation or a typo (Jaro-Winkler >= 0.88)
	HowNickname = "nickname" // a common short form of the same given name
	HowInitial  = "initial"  // an initial standing for the name
)

// Token scores for the ways a token can match.
const (
	nicknameScore = 0.95
	initialScore  = 0.9
	spellingMatch = 0.88
)

// HolderMatch is how well a payout account's holder name matches a claimed
// name.
type HolderMatch struct {
	// Similarity is 0 (another person) to 1 (the same name). Sharing only
	// the family name (a relative's account) is 0.5; a holder written with
	// initials only is at most 0.5.
	Similarity float64
	// How lists the weaker ways tokens matched (spelling, nickname,
	// initial), empty for an exact match or no match.
	How []string
	// Reordered is set when the holder gives the names in another order.
	Reordered bool
}

// MatchHolder compares a holder name as a bank or wallet writes it with a
// claimed name. Each holder token is paired with at most one claimed token
// (exact, spelling, nickname or initial, best pairs first); the similarity
// is twice the paired score over the number of tokens on both sides, so a
// middle name on one side costs a little and a different given name half.
func MatchHolder(holder string, claimed Name) HolderMatch {
	best := HolderMatch{}
	raw := strings.TrimSpace(holder)
	if raw == "" || claimed.Empty() {
		return best
	}
	hvs := [][]string{tokens(canonical.Replace(fold(raw, false)))}
	if g := fold(raw, true); g != fold(raw, false) {
		hvs = append(hvs, tokens(canonical.Replace(g)))
	}
	for _, h := range hvs {
		for _, c := range claimed.ordered {
			if m := matchTokens(h, c); m.Similarity > best.Similarity {
				best = m
			}
		}
	}
	return best
}

type pair struct {
	i, j  int
	score float64
	how   string
}

func matchTokens(h, c []string) HolderMatch {
	if len(h) == 0 || len(c) == 0 {
		return HolderMatch{}
	}
	var pairs []pair
	for i, a := range h {
		for j, b := range c {
			if s, how := tokenPair(a, b); s > 0 {
				pairs = append(pairs, pair{i, j, s, how})
			}
		}
	}
	slices.SortStableFunc(pairs, func(x, y pair) int {
		return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(x.i, y.i), cmp.Compare(x.j, y.j))
	})
	usedH, usedC := make([]bool, len(h)), make([]bool, len(c))
	sum, full := 0.0, false
	hows := map[string]bool{}
	var order [][2]int
	for _, p := range pairs {
		if usedH[p.i] || usedC[p.j] {
			continue
		}
		usedH[p.i], usedC[p.j] = true, true
		sum += p.score
		order = append(order, [2]int{p.i, p.j})
		if p.how != HowInitial {
			full = true
		}
		if p.how != HowExact {
			hows[p.how] = true
		}
	}
	sim := 2 * sum / float64(len(h)+len(c))
	if !full { // initials alone name nobody
		sim = min(sim, 0.5)
	}
	m := HolderMatch{Similarity: math.Round(sim*1000) / 1000}
	for _, how := range []string{HowSpelling, HowNickname, HowInitial} {
		if hows[how] {
			m.How = append(m.How, how)
		}
	}
	slices.SortFunc(order, func(a, b [2]int) int { return a[0] - b[0] })
	for k := 1; k < len(order); k++ {
		if order[k][1] < order[k-1][1] {
			m.Reordered = true
		}
	}
	return m
}

// tokenPair scores one holder token against one claimed token.
func tokenPair(a, b string) (float64, string) {
	switch {
	case a == b:
		return 1, HowExact
	case len(a) == 1 || len(b) == 1:
		if a[0] == b[0] {
			return initialScore, HowInitial
		}
		return 0, ""
	}
	if s := JaroWinkler(a, b); s >= spellingMatch {
		return s, HowSpelling
	}
	if sameNickname(a, b) {
		return nicknameScore, HowNickname
	}
	return 0, ""
}

// FamilyKey is a family name folded for comparison: lower-case Latin,
// transliterated, without diacritics, canonical spelling, German vowel
// digraphs reduced, tokens sorted. Spellings of one family name ("Müller",
// "Mueller", "MULLER"; "Иванов", "Ivanov") give the same key; "" for no
// letters.
func FamilyKey(family string) string {
	return strings.Join(sorted(umlauts.Replace(fold(strings.TrimSpace(family), false))), " ")
}

// umlauts spells German vowel digraphs as their plain vowel, so "mueller"
// and "muller" meet.
var umlauts = strings.NewReplacer("ae", "a", "oe", "o", "ue", "u")
