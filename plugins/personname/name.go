// Package personname compares people's names the way identity checks need
// to: across scripts (Cyrillic, Greek transliterated as passports do),
// diacritics (Müller, Muller and Mueller), case, punctuation and the order of
// given and family names; and, for a payout account's holder, initials
// ("A. Kharitonov") and common nicknames ("Sasha", "Bill"). The document
// detector uses it for the document and payout holder names, the linkage
// detector for a household's shared family name.
package personname

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// translit spells common Cyrillic and Greek letters in Latin, close to the
// ICAO 9303 transliteration passports print in their machine-readable zone.
// Keys are lower case; accents are removed before lookup.
var translit = map[rune]string{
	// Cyrillic (Russian, Ukrainian, Belarusian, Bulgarian, Serbian)
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'ґ': "g", 'д': "d", 'е': "e", 'ё': "e", 'є': "ie",
	'ж': "zh", 'з': "z", 'и': "i", 'і': "i", 'ї': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ў': "u", 'ф': "f",
	'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "ie", 'ы': "y", 'ь': "",
	'э': "e", 'ю': "iu", 'я': "ia", 'ђ': "d", 'ј': "j", 'љ': "lj", 'њ': "nj", 'ћ': "c", 'џ': "dz",
	// Greek
	'α': "a", 'β': "v", 'γ': "g", 'δ': "d", 'ε': "e", 'ζ': "z", 'η': "i", 'θ': "th", 'ι': "i",
	'κ': "k", 'λ': "l", 'μ': "m", 'ν': "n", 'ξ': "x", 'ο': "o", 'π': "p", 'ρ': "r", 'σ': "s",
	'ς': "s", 'τ': "t", 'υ': "y", 'φ': "f", 'χ': "ch", 'ψ': "ps", 'ω': "o",
	// Latin letters that are not a base letter plus a mark
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th", 'ı': "i",
}

// Romanisations of the same name differ most in how they spell a few sounds;
// one canonical spelling each brings "Ivanov", "Iwanow" and "Иванов" together
// without making unrelated names alike.
var canonical = strings.NewReplacer(
	"kh", "h", "ks", "x", "ph", "f", "w", "v", "y", "i", "j", "i", "zh", "z", "ck", "k", "th", "t",
)

// Name is a person's name prepared for comparison.
type Name struct {
	// Display is the name folded to lower-case Latin letters, the given and
	// family names in their original order.
	Display string
	// variants are the name's sorted token lists under each way of folding
	// umlauts: "müller" is "muller" in most romanisations, "mueller" in German.
	variants [][]string
	// ordered are the same foldings' canonical tokens in the original order
	// (given names first, as the profile and document give them).
	ordered [][]string
}

// Parse prepares given and family names (either may be empty) for
// comparison.
func Parse(given, family string) Name {
	raw := strings.TrimSpace(given + " " + family)
	plain := fold(raw, false)
	n := Name{Display: strings.Join(tokens(plain), " ")}
	n.variants = append(n.variants, sorted(plain))
	n.ordered = append(n.ordered, tokens(canonical.Replace(plain)))
	if german := fold(raw, true); german != plain {
		n.variants = append(n.variants, sorted(german))
		n.ordered = append(n.ordered, tokens(canonical.Replace(german)))
	}
	return n
}

// Empty reports whether the name has no letters.
func (n Name) Empty() bool { return n.Display == "" }

func sorted(s string) []string {
	t := tokens(canonical.Replace(s))
	slices.Sort(t)
	return t
}

// fold lower-cases s, removes diacritics and transliterates Cyrillic and
// Greek letters. With german, a vowel with a diaeresis becomes vowel + "e".
func fold(s string, german bool) string {
	var b strings.Builder
	var prev rune
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case r == '\u0308' && german && strings.ContainsRune("aou", prev):
			b.WriteByte('e')
		case r == 'υ' && prev == 'ο': // Greek "ου" is "ou"
			b.WriteByte('u')
		case unicode.Is(unicode.Mn, r):
			// a diacritic: dropped
		case translit[r] != "" || r == 'ь':
			b.WriteString(translit[r])
		case unicode.IsLetter(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ') // hyphens, apostrophes, dots: token boundaries
		}
		prev = r
	}
	return b.String()
}

func tokens(s string) []string { return strings.Fields(s) }

// tokenMatch is the Jaro-Winkler similarity below which two name tokens are
// considered different names rather than spellings of one.
const tokenMatch = 0.8

// Similarity compares two names, 0 (unrelated) to 1 (the same), ignoring
// diacritics, script (Cyrillic, Greek), case, punctuation and the order of
// the names. Each token of the shorter name is matched to its most similar
// unused token of the longer one (Jaro-Winkler; below 0.8 counts as no
// match); the mean is reduced when the longer name has extra tokens (a middle
// name), by the square root of the token-count ratio. The best of the
// umlaut foldings wins.
func Similarity(a, b Name) float64 {
	best := 0.0
	for _, x := range a.variants {
		for _, y := range b.variants {
			best = max(best, tokenSimilarity(x, y))
		}
	}
	return math.Round(best*1000) / 1000
}

func tokenSimilarity(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	used := make([]bool, len(b))
	sum := 0.0
	for _, t := range a {
		bi, bs := -1, 0.0
		for j, u := range b {
			if used[j] {
				continue
			}
			if s := JaroWinkler(t, u); s > bs {
				bi, bs = j, s
			}
		}
		if bi >= 0 && bs >= tokenMatch {
			used[bi] = true
			sum += bs
		}
	}
	return sum / float64(len(a)) * math.Sqrt(float64(len(a))/float64(len(b)))
}

// JaroWinkler is the Jaro-Winkler similarity of a and b (0..1), with the
// usual prefix scale 0.1 over at most 4 characters.
func JaroWinkler(a, b string) float64 {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 && len(rb) == 0 {
		return 1
	}
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	window := max(len(ra), len(rb))/2 - 1
	window = max(window, 0)
	ma, mb := make([]bool, len(ra)), make([]bool, len(rb))
	matches := 0
	for i, r := range ra {
		for j := max(0, i-window); j <= min(len(rb)-1, i+window); j++ {
			if !mb[j] && rb[j] == r {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, j := 0, 0
	for i := range ra {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if ra[i] != rb[j] {
			transpositions++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(len(ra)) + m/float64(len(rb)) + (m-float64(transpositions)/2)/m) / 3
	prefix := 0
	for prefix < min(4, len(ra), len(rb)) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}
