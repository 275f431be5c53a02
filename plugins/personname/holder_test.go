package personname

import (
	"slices"
	"testing"
)

func TestMatchHolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		holder        string
		given, family string
		min, max      float64
		how           []string
		reordered     bool
	}{
		{"same", "Anna Schröder", "Anna", "Schröder", 1, 1, nil, false},
		{"upper case, umlaut spelt out", "ANNA SCHROEDER", "Anna", "Schröder", 1, 1, nil, false},
		{"umlaut dropped", "Anna Schroder", "Anna", "Schröder", 1, 1, nil, false},
		{"family name first", "Schröder Anna", "Anna", "Schröder", 1, 1, nil, true},
		{"initial", "A. Schröder", "Anna", "Schröder", 0.94, 0.96, []string{HowInitial}, false},
		{"English nickname", "Bill Johnson", "William", "Johnson", 0.97, 0.98, []string{HowNickname}, false},
		{"Cyrillic profile, Latin holder", "Aleksandr Kharitonov", "Александр", "Харитонов", 1, 1, nil, false},
		{"Cyrillic profile, other romanisation", "Alexander Haritonov", "Александр", "Харитонов", 0.97, 1, []string{HowSpelling}, false},
		{"Russian nickname in Latin", "Sasha Kharitonov", "Aleksandr", "Kharitonov", 0.97, 0.98, []string{HowNickname}, false},
		{"Russian nickname in Cyrillic", "Саша Харитонов", "Aleksandr", "Kharitonov", 0.97, 0.98, []string{HowNickname}, false},
		{"Ukrainian name, Russian romanisation", "IRINA BONDARENKO", "Iryna", "Bondarenko", 1, 1, nil, false},
		{"Greek document name", "Giorgos Papadopoulos", "Γιώργος", "Παπαδόπουλος", 1, 1, nil, false},
		{"Greek nickname", "George Papadopoulos", "Giorgos", "Papadopoulos", 0.97, 0.98, []string{HowNickname}, false},
		{"Serbian Cyrillic", "Djordje Petrovic", "Ђорђе", "Петровић", 0.95, 1, []string{HowSpelling}, false},
		{"Polish diacritics", "LUKASZ WISNIEWSKI", "Łukasz", "Wiśniewski", 1, 1, nil, false},
		{"Spanish accents and nickname", "Pepe Garcia", "José", "García", 0.97, 0.98, []string{HowNickname}, false},
		{"middle name on the account", "Anna Maria Schröder", "Anna", "Schröder", 0.79, 0.81, nil, false},
		{"relative: family name only", "Ngozi Okafor", "Chinedu", "Okafor", 0.5, 0.5, nil, false},
		{"initials only", "A. K.", "Aleksandr", "Kharitonov", 0, 0.5, []string{HowInitial}, false},
		{"another person", "Robert Smith", "Katherine", "Davis", 0, 0, nil, false},
		{"another person, same script", "Иван Петров", "Aleksandr", "Kharitonov", 0, 0, nil, false},
		{"empty holder", "", "Anna", "Schröder", 0, 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MatchHolder(tt.holder, Parse(tt.given, tt.family))
			if got.Similarity < tt.min || got.Similarity > tt.max || !slices.Equal(got.How, tt.how) || got.Reordered != tt.reordered {
				t.Errorf("MatchHolder(%q, %s %s) = %+v, want similarity %v..%v, how %v, reordered %v",
					tt.holder, tt.given, tt.family, got, tt.min, tt.max, tt.how, tt.reordered)
			}
		})
	}
}

func TestFamilyKey(t *testing.T) {
	t.Parallel()
	for _, group := range [][]string{
		{"Müller", "MULLER", "muller", "Mueller"},
		{"Иванов", "Ivanov", "IVANOV"},
		{"Παπαδόπουλος", "Papadopoulos"},
		{"García", "Garcia"},
		{"Van der Berg", "van der berg"},
	} {
		want := FamilyKey(group[0])
		for _, f := range group[1:] {
			if got := FamilyKey(f); got != want || got == "" {
				t.Errorf("FamilyKey(%q) = %q, want %q as for %q", f, got, want, group[0])
			}
		}
	}
	if FamilyKey("Ivanov") == FamilyKey("Petrov") {
		t.Errorf("FamilyKey(Ivanov) == FamilyKey(Petrov), want different keys")
	}
	if FamilyKey(" - ") != "" {
		t.Errorf("FamilyKey(no letters) = %q, want empty", FamilyKey(" - "))
	}
}
