package personname

import "testing"

func TestSimilarity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		docGiven, docFam   string
		profGiven, profFam string
		min, max           float64 // similarity bounds
	}{
		{"umlaut spelt out", "Anna", "Müller", "Anna", "Mueller", 1, 1},
		{"umlaut dropped", "Anna", "Müller", "Anna", "Muller", 1, 1},
		{"Cyrillic document", "Иван", "Иванов", "Ivan", "Ivanov", 1, 1},
		{"Cyrillic family name only", "Ivan", "Иванов", "Ivan", "Ivanov", 1, 1},
		{"Cyrillic kh", "Александр", "Харитонов", "Aleksandr", "Kharitonov", 1, 1},
		{"other romanisation", "Aleksandr", "Kharitonov", "Alexander", "Haritonov", 0.95, 1},
		{"Greek", "Γιώργος", "Παπαδόπουλος", "Giorgos", "Papadopoulos", 1, 1},
		{"accents", "José", "García", "Jose", "Garcia", 1, 1},
		{"swapped given and family", "Smith", "John", "John", "Smith", 1, 1},
		{"case and hyphen", "JEAN-PIERRE", "DUPONT", "Jean Pierre", "Dupont", 1, 1},
		{"typo", "Jon", "Smith", "John", "Smith", 0.9, 0.99},
		{"middle name", "Anna Maria", "Schmidt", "Anna", "Schmidt", 0.75, 0.9},
		{"other family name", "Ivan", "Petrov", "Ivan", "Ivanov", 0.45, 0.55},
		{"unrelated", "John", "Smith", "Maria", "Garcia", 0, 0},
		{"unrelated short", "Li", "Wei", "Wang", "Fang", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Similarity(Parse(tt.docGiven, tt.docFam), Parse(tt.profGiven, tt.profFam))
			if got < tt.min || got > tt.max {
				t.Errorf("Similarity(%s %s, %s %s) = %v, want %v..%v", tt.docGiven, tt.docFam, tt.profGiven, tt.profFam, got, tt.min, tt.max)
			}
		})
	}
}

func TestJaroWinkler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.961}, {"dwayne", "duane", 0.84}, {"dixon", "dicksonx", 0.813},
		{"", "", 1}, {"a", "", 0}, {"abc", "xyz", 0}, {"same", "same", 1},
	}
	for _, tt := range tests {
		if got := JaroWinkler(tt.a, tt.b); got < tt.want-0.001 || got > tt.want+0.001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.3f", tt.a, tt.b, got, tt.want)
		}
	}
}

func BenchmarkSimilarity(b *testing.B) {
	a, c := Parse("Александр Сергеевич", "Харитонов"), Parse("Alexander", "Kharitonov")
	for b.Loop() {
		Similarity(a, c)
	}
}
