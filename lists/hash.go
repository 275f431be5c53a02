package lists

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Hasher turns personal values into the keys lists store: HMAC-SHA-256
// under the configured key, over the kind and the normalised value, 128 bits
// in hex — the same construction and key handling as the linkage detector
// (its HASH_KEY), so a list is no copy of personal data and a database dump
// does not reverse without the key. Replicas sharing a PostgreSQL ledger
// must share the key; changing it makes every hashed entry unmatchable.
type Hasher struct{ key []byte }

// NewHasher returns a hasher keyed with key.
func NewHasher(key string) Hasher { return Hasher{key: []byte(key)} }

func (h Hasher) hash(k Kind, v string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(k))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return hashedPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}

// Key returns the stored key of value v in a list of kind k: the normalised
// value, or its keyed hash for personal kinds. A personal value already in
// hashed form ("hmac:" and 32 hex digits, as export writes it) is kept.
func (h Hasher) Key(k Kind, v string) (string, error) {
	if k.Personal() {
		if s := strings.ToLower(strings.TrimSpace(v)); strings.HasPrefix(s, hashedPrefix) {
			if x := s[len(hashedPrefix):]; len(x) == 32 && isHex(x) {
				return s, nil
			}
		}
	}
	n, err := normalise(k, v)
	if err != nil {
		return "", err
	}
	if k.Personal() {
		return h.hash(k, n), nil
	}
	return n, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
