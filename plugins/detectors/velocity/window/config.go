package window

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key kinds: what a rule counts by. They appear in the signals' evidence.
const (
	KindIP          = "ip" // IPv4 address, or the /64 of an IPv6 address
	KindDevice      = "device_id"
	KindEmailDomain = "email_domain"
	KindSubject     = "subject_id"
)

// Rule counts events of one checkpoint by one key over a sliding window.
type Rule struct {
	Signal     string // velocity.<Name>
	Name       string // configuration prefix, e.g. signups_per_ip
	Checkpoint string
	KeyKind    string
	// Distinct counts distinct subjects per key instead of events.
	Distinct  bool
	Window    time.Duration
	Threshold int // the count that scores 1; 1 event scores 0
}

// Config is the velocity detector's configuration.
type Config struct {
	Rules []Rule
	// IgnoreEmailDomains are never counted by email domain: large free-mail
	// providers, where many signups a day are normal.
	IgnoreEmailDomains map[string]bool
	// CountLimit is the most events a count reads: a count that reaches it
	// is reported as "at least CountLimit" (value "100+", evidence
	// count_capped). A burst from one disposable email domain may put
	// hundreds of thousands of events in a day's window; counting them all
	// on every call would make the detector slower the larger the attack it
	// is there to see. It is never below a rule's threshold, so scores are
	// exact.
	CountLimit int
	// PruneEvery is how many recorded calls pass between deletions of the
	// events older than every window (SQLite; Redis expires them itself).
	PruneEvery int
	// RedisURL selects Redis (redis://host:6379/0), shared by every replica;
	// empty means SQLite under the data folder.
	RedisURL string
}

// DefaultRules are the rules before configuration.
func DefaultRules() []Rule {
	return []Rule{
		{Name: "signups_per_ip", Checkpoint: "signup", KeyKind: KindIP, Threshold: 5},
		{Name: "signups_per_device", Checkpoint: "signup", KeyKind: KindDevice, Threshold: 3},
		{Name: "signups_per_email_domain", Checkpoint: "signup", KeyKind: KindEmailDomain, Threshold: 20},
		{Name: "payout_changes_per_account", Checkpoint: "payout_method_change", KeyKind: KindSubject, Threshold: 3},
		{Name: "logins_per_device_accounts", Checkpoint: "login", KeyKind: KindDevice, Distinct: true, Threshold: 3},
	}
}

// DefaultCountLimit is CountLimit before configuration.
const DefaultCountLimit = 100

// DefaultIgnoreEmailDomains are the large free-mail providers.
const DefaultIgnoreEmailDomains = "gmail.com,googlemail.com,outlook.com,hotmail.com,live.com,msn.com," +
	"yahoo.com,ymail.com,icloud.com,me.com,mac.com,aol.com,proton.me,protonmail.com,gmx.com,gmx.de," +
	"web.de,mail.com,yandex.ru,yandex.com,mail.ru,qq.com,163.com,126.com,naver.com,zoho.com," +
	"hotmail.co.uk,yahoo.co.uk,yahoo.co.in,rediffmail.com,free.fr,orange.fr,libero.it,t-online.de,uol.com.br"

// LoadConfig reads the configuration through env (sdk.Env in production):
// WINDOW is the default window of every rule (24h), <RULE>_WINDOW and
// <RULE>_THRESHOLD override one rule (SIGNUPS_PER_IP_THRESHOLD=10),
// IGNORE_EMAIL_DOMAINS is a comma-separated list, PRUNE_EVERY a count,
// REDIS_URL a redis:// or rediss:// URL. It reports every problem at once.
func LoadConfig(env func(key, def string) string) (Config, error) {
	var errs []error
	duration := func(key, def string) time.Duration {
		s := env(key, def)
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration", key, s))
		}
		return d
	}
	integer := func(key string, def, min int) int {
		s := env(key, strconv.Itoa(def))
		n, err := strconv.Atoi(s)
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer of at least %d", key, s, min))
		}
		return n
	}
	window := env("WINDOW", "24h")
	if duration("WINDOW", window) <= 0 {
		window = "24h" // reported once above, not again for every rule
	}
	cfg := Config{IgnoreEmailDomains: map[string]bool{}, PruneEvery: integer("PRUNE_EVERY", 1000, 1), CountLimit: integer("COUNT_LIMIT", DefaultCountLimit, 2)}
	for _, r := range DefaultRules() {
		key := strings.ToUpper(r.Name)
		r.Signal = "velocity." + r.Name
		r.Window = duration(key+"_WINDOW", window)
		r.Threshold = integer(key+"_THRESHOLD", r.Threshold, 2)
		cfg.Rules = append(cfg.Rules, r)
		if cfg.CountLimit >= 2 && r.Threshold > cfg.CountLimit {
			errs = append(errs, fmt.Errorf("COUNT_LIMIT: %d is below %s_THRESHOLD (%d): the score would stop short of 1", cfg.CountLimit, key, r.Threshold))
		}
	}
	for _, d := range strings.Split(env("IGNORE_EMAIL_DOMAINS", DefaultIgnoreEmailDomains), ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			cfg.IgnoreEmailDomains[d] = true
		}
	}
	if cfg.RedisURL = env("REDIS_URL", ""); cfg.RedisURL != "" {
		if _, err := redis.ParseURL(cfg.RedisURL); err != nil {
			// not the URL itself: it may hold a password
			errs = append(errs, errors.New("REDIS_URL: not a redis:// or rediss:// URL"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("velocity configuration: %w", err)
	}
	return cfg, nil
}

// MaxWindow is the longest window of any rule.
func (c Config) MaxWindow() time.Duration {
	var m time.Duration
	for _, r := range c.Rules {
		m = max(m, r.Window)
	}
	return m
}
