package personname

import "strings"

// nicknameGroups are given names and the short forms people put on bank
// accounts and wallets, across the languages of the marketplace's traffic
// (English, Russian and Ukrainian, Greek, Serbian, Polish, Spanish,
// Portuguese, German, French). Spellings are folded and canonicalised like
// any name, so "Саша", "Sasha" and "Aleksandr"/"Alexander"/"Oleksandr" meet.
var nicknameGroups = []string{
	"aleksandr alexander oleksandr alexandr alex sasha sascha shura sanya",
	"aleksandra alexandra oleksandra sasha alex sandra",
	"dmitry dmitrii dmitri dmytro dima",
	"mikhail michail mykhailo michael misha mike",
	"yekaterina ekaterina kateryna katerina katya kate",
	"sergei sergey serhii sergiy seryozha serezha",
	"iryna irina ira",
	"yuliia yulia julia iuliia yulya",
	"andriy andrii andrei andrey andrew andy",
	"nikolai mykola nicholas nick kolya",
	"vladimir volodymyr volodya vova",
	"yevgeny evgeny yevhen zhenya eugene",
	"anastasia anastasiia nastya",
	"giorgos georgios george yiorgos",
	"dimitris dimitrios jim jimmy mitsos",
	"eleni helen helena",
	"konstantinos kostas costas",
	"ioannis giannis yiannis john",
	"djordje dorde george djole",
	"malgorzata gosia margaret",
	"katarzyna kasia kate",
	"aleksander olek",
	"jose pepe",
	"francisco paco pancho",
	"ignacio nacho",
	"joao john",
	"william will bill billy",
	"robert rob bob bobby",
	"elizabeth liz beth betty lizzie eliza",
	"katherine catherine kate katie kathy cathy",
	"margaret peggy maggie meg",
	"james jim jimmy jamie",
	"thomas tom tommy",
	"charlotte charlie lottie",
	"richard rick dick rich",
	"edward ed ted eddie",
	"jennifer jen jenny",
	"christopher chris",
	"johannes hans johann",
	"juergen jurgen",
	"francois franck",
}

// nicknameOf maps each canonical token to the groups it belongs to.
var nicknameOf = func() map[string][]int {
	m := map[string][]int{}
	for i, g := range nicknameGroups {
		for _, n := range strings.Fields(g) {
			for _, t := range tokens(canonical.Replace(fold(n, false))) {
				m[t] = append(m[t], i)
			}
		}
	}
	return m
}()

// sameNickname reports whether two canonical tokens are forms of one given
// name.
func sameNickname(a, b string) bool {
	for _, x := range nicknameOf[a] {
		for _, y := range nicknameOf[b] {
			if x == y {
				return true
			}
		}
	}
	return false
}
