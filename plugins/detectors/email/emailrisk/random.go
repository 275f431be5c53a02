package emailrisk

import (
	"math"
	"strings"
	"unicode"
)

// Features describe how machine-generated a local part looks. They are
// computed on the mailbox (lower case, plus tag removed) with the separators
// '.', '_' and '-' removed, except the consonant run, which is measured per
// separated part so "frank.schmidt" is not read as "nkschm".
type Features struct {
	Length        int     // letters and digits
	DigitRatio    float64 // digits / Length
	Entropy       float64 // Shannon entropy, bits per character
	DigitRun      int     // longest run of digits
	HexRun        int     // longest run of [0-9a-f] that interleaves digits and letters (see mixedHex)
	HexTail       int     // such a run that ends the mailbox
	ClassSwitches int     // letter↔digit changes
	ConsonantRun  int     // longest run of ASCII consonants ('y' counts as a vowel) within a part
	VowelRatio    float64 // vowels / ASCII letters; 1 when there are none
}

// feature is one rule of the score: its name in the evidence and its weight
// when it fires.
type feature struct {
	name   string
	weight float64
}

// Fired returns the rules the features trigger, strongest reading of each.
func (f Features) Fired() []feature {
	var out []feature
	add := func(name string, w float64) { out = append(out, feature{name, w}) }
	switch {
	case f.HexRun >= 10:
		add("hex_run", 0.85)
	case f.HexRun >= 8:
		add("hex_run", 0.6)
	case f.HexTail >= 6:
		add("hex_tail", 0.5)
	}
	switch {
	case f.DigitRun >= 8:
		add("digit_run", 0.5)
	case f.DigitRun >= 6:
		add("digit_run", 0.4)
	case f.DigitRun == 5:
		add("digit_run", 0.2)
	}
	if f.DigitRatio >= 0.6 && f.Length-int(math.Round(f.DigitRatio*float64(f.Length))) >= 2 {
		add("digit_ratio", 0.3)
	}
	switch {
	case f.ClassSwitches >= 5:
		add("class_switches", 0.8)
	case f.ClassSwitches >= 3:
		add("class_switches", 0.5)
	}
	switch {
	case f.ConsonantRun >= 7:
		add("consonant_run", 0.6)
	case f.ConsonantRun >= 6:
		add("consonant_run", 0.35)
	case f.ConsonantRun == 5:
		add("consonant_run", 0.2)
	}
	if f.Length >= 6 && f.VowelRatio < 0.12 && f.DigitRatio < 0.5 {
		add("few_vowels", 0.5)
	}
	if f.Length >= 12 && f.Entropy >= 3.5 && f.DigitRatio > 0 {
		add("entropy", 0.15)
	}
	return out
}

// Score combines the fired rules as a noisy-OR: each is independent evidence
// that the local part was generated, so weak rules add up without passing 1.
func (f Features) Score() float64 {
	p := 1.0
	for _, r := range f.Fired() {
		p *= 1 - r.weight
	}
	return 1 - p
}

// LocalFeatures measures a mailbox (see Features).
func LocalFeatures(mailbox string) Features {
	var f Features
	var joined []rune
	asciiLetters, vowels := 0, 0
	nonASCIILetters := false
	for _, part := range strings.FieldsFunc(mailbox, func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
		run := 0
		for _, r := range part {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				continue
			}
			joined = append(joined, r)
			switch {
			case r >= 'a' && r <= 'z':
				asciiLetters++
				if strings.ContainsRune("aeiouy", r) {
					vowels++
					run = 0
				} else {
					run++
					f.ConsonantRun = max(f.ConsonantRun, run)
				}
			case unicode.IsLetter(r):
				nonASCIILetters = true
				run = 0
			default:
				run = 0
			}
		}
	}
	f.Length = len(joined)
	if f.Length == 0 {
		f.VowelRatio = 1
		return f
	}
	f.VowelRatio = 1
	if asciiLetters > 0 && !nonASCIILetters {
		f.VowelRatio = float64(vowels) / float64(asciiLetters)
	} else if nonASCIILetters {
		f.ConsonantRun = 0 // vowels of other scripts are not known here
	}

	counts := map[rune]int{}
	digits, digitRun := 0, 0
	prevDigit, prevSet := false, false
	hexStart := 0
	for i, r := range joined {
		counts[r]++
		isDigit := r >= '0' && r <= '9'
		if isDigit {
			digits++
			digitRun++
			f.DigitRun = max(f.DigitRun, digitRun)
		} else {
			digitRun = 0
		}
		if unicode.IsLetter(r) || isDigit {
			if prevSet && prevDigit != isDigit {
				f.ClassSwitches++
			}
			prevDigit, prevSet = isDigit, true
		}
		if !isHex(r) {
			hexStart = i + 1
			continue
		}
		if run := joined[hexStart : i+1]; mixedHex(run) {
			f.HexRun = max(f.HexRun, len(run))
			if i == len(joined)-1 {
				f.HexTail = len(run)
			}
		}
	}
	f.DigitRatio = float64(digits) / float64(f.Length)
	for _, c := range counts {
		p := float64(c) / float64(f.Length)
		f.Entropy -= p * math.Log2(p)
	}
	return f
}

func isHex(r rune) bool { return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' }

// mixedHex reports a hex run with at least two digits, two letters and two
// changes between them: "4f9a2c", not a word ("facade"), a year ("1987") or a
// name followed by a date ("ada19870412").
func mixedHex(run []rune) bool {
	d, l, switches := 0, 0, 0
	for i, r := range run {
		if r <= '9' {
			d++
		} else {
			l++
		}
		if i > 0 && (r <= '9') != (run[i-1] <= '9') {
			switches++
		}
	}
	return d >= 2 && l >= 2 && switches >= 2
}
