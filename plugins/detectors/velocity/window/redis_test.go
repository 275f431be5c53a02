package window

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gavel/gavel/internal/redistest"
)

// TestRedisStoreHoldsNoIdentifierInClear reads back everything the detector
// left in Redis: hashed keys under gavel:velocity:, hashed account members,
// an expiry on every key, and no IP address, device, domain or account.
func TestRedisStoreHoldsNoIdentifierInClear(t *testing.T) {
	t.Parallel()
	url := redistest.Server(t)
	d := newDetector(t, backend{"redis", time.Microsecond, func(t testing.TB) Counter { return openRedis(t, url) }}, nil)
	counts(t, d, signup("203.0.113.250", "device-secret-1", "someone@secret-domain.io", time.Now()))
	counts(t, d, req{checkpoint: "login", subject: "acct-secret-2", device: "device-secret-1", at: time.Now()})
	counts(t, d, req{checkpoint: "payout_method_change", subject: "acct-secret-3", at: time.Now()})

	ctx := context.Background()
	rdb := redisClient(t, url)
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 { // ip, device, domain; login device; payout account
		t.Errorf("Redis keys = %v, want 5", keys)
	}
	secrets := []string{"203.0.113", "device-secret", "secret-domain", "acct-secret", "someone"}
	for _, k := range keys {
		if !strings.HasPrefix(k, keyPrefix) || len(k) != len(keyPrefix)+32 {
			t.Errorf("Redis key %q, want %s<32 hex digits>", k, keyPrefix)
		}
		if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > 24*time.Hour {
			t.Errorf("PTTL(%s) = %v, %v, want (0, 24h]", k, ttl, err)
		}
		members, err := rdb.ZRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(members, k) {
			for _, secret := range secrets {
				if strings.Contains(s, secret) {
					t.Errorf("Redis holds %q in the clear (key %s)", secret, k)
				}
			}
		}
	}
}

func TestRedisDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	url := redistest.Server(t)
	d := newDetector(t, backend{"redis", time.Microsecond, func(t testing.TB) Counter { return openRedis(t, url) }}, nil)
	r := signup("198.51.100.7", "dev-dry", "x@acme.io", t0)
	r.dryRun = true
	counts(t, d, r)
	counts(t, d, req{checkpoint: "login", subject: "acct-1", device: "dev-dry", at: t0, dryRun: true})
	if n, err := redisClient(t, url).DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE after dry runs = %d, %v, want 0", n, err)
	}
}

func TestOpenRedisErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// a port nothing listens on: the one of a server already stopped
	_, err := OpenRedis(ctx, "redis://gavel:hunter2@127.0.0.1:1/0")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("OpenRedis(unreachable, with password) = %v, want an error naming the address without the password", err)
	}
	if _, err := OpenRedis(ctx, "http://secret@host/0"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("OpenRedis(http://…) = %v, want an error without the URL", err)
	}
}

func TestLoadConfigRedisURL(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(env(map[string]string{"REDIS_URL": "redis://cache:6379/2"}))
	if err != nil || cfg.RedisURL != "redis://cache:6379/2" {
		t.Errorf("LoadConfig(REDIS_URL=redis://cache:6379/2) = %q, %v, want that URL", cfg.RedisURL, err)
	}
	_, err = LoadConfig(env(map[string]string{"REDIS_URL": "cache:6379?password=pw", "PRUNE_EVERY": "0"}))
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL:") || !strings.Contains(err.Error(), "PRUNE_EVERY:") || strings.Contains(err.Error(), "pw") {
		t.Errorf("LoadConfig(bad REDIS_URL, PRUNE_EVERY=0) = %v, want both named, no password", err)
	}
}

// redisClient is a plain client on the test server, to look inside it.
func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
