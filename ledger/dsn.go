package ledger

import (
	"net/url"
	"regexp"
	"strings"
)

const redacted = "xxxxx"

// kvPassword matches a password in a key=value connection string: bare or
// single-quoted with backslash escapes, as libpq accepts it.
var kvPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// RedactDSN returns dsn with any password replaced by "xxxxx", so it can be
// logged or put in an error. It understands URLs (postgres://u:p@h/db,
// ?password=) and libpq key=value strings (password=p, password='p q').
func RedactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// Unparsable URL: keep the scheme and host-ish part only.
			scheme, _, _ := strings.Cut(dsn, "://")
			return scheme + "://" + redacted
		}
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), redacted)
			}
		}
		q := u.Query()
		changed := false
		for k := range q {
			if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
				q.Set(k, redacted)
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}"+redacted)
}
