package window

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps the windows in Redis, so that several gavel replicas share
// their counts: one sorted set per key, named gavel:velocity:<hash>, whose
// members are events (a random id, or the hashed account for distinct
// counts) scored by their time in Unix microseconds (exact in a float64 until
// the year 2255; SQLite keeps nanoseconds). Like Store it holds no IP address,
// device id or account id in the clear, and each set expires a window after
// its last event, so nothing needs pruning.
type RedisStore struct {
	rdb *redis.Client
}

// keyPrefix starts every key the store writes.
const keyPrefix = "gavel:velocity:"

// OpenRedis connects to the Redis server at rawURL (redis://host:6379/0, or
// rediss:// for TLS) and checks that it answers. Errors name the URL with its
// password redacted.
func OpenRedis(ctx context.Context, rawURL string) (*RedisStore, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errors.New("open velocity store: REDIS_URL is not a redis:// or rediss:// URL")
	}
	// Detect's deadline (the host's timeout) bounds each call, not only the
	// client's own 3 s read timeout.
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("open velocity store %s: %w", redacted(rawURL), err)
	}
	return &RedisStore{rdb: rdb}, nil
}

// Close closes the connections.
func (s *RedisStore) Close() error { return s.rdb.Close() }

// Observe implements Counter in one MULTI/EXEC per call, which Redis runs
// whole, with no other client's command in between: per query it counts the
// events after at-window (later times included: an event recorded earlier
// may carry a later time), asks whether the member is among them (distinct
// counts), and, when recording, drops the events that left the window, adds
// this one and pushes the set's expiry a window ahead. Each call thus sees
// every event recorded before it, from any replica, and none after. The
// counts are read before the write and the current event added to them, as
// Store does, so a dry run writes nothing and sees the same count.
func (s *RedisStore) Observe(ctx context.Context, at time.Time, record bool, qs []Query) ([]int, error) {
	now := at.UnixMicro()
	type reply struct {
		count *redis.IntCmd
		score *redis.FloatCmd // distinct only: the member's last event
	}
	replies := make([]reply, len(qs))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, q := range qs {
			key := keyPrefix + hash(q.Key)
			from := strconv.FormatInt(now-q.Window.Microseconds(), 10)
			replies[i].count = p.ZCount(ctx, key, "("+from, "+inf")
			member := ""
			if q.Distinct {
				member = hash(q.Member)
				replies[i].score = p.ZScore(ctx, key, member)
			}
			if !record {
				continue
			}
			p.ZRemRangeByScore(ctx, key, "-inf", from)
			if q.Distinct {
				// GT: a late call with an older time never moves a member back.
				p.ZAddGT(ctx, key, redis.Z{Score: float64(now), Member: member})
			} else {
				p.ZAdd(ctx, key, redis.Z{Score: float64(now), Member: eventID(at)})
			}
			// PEXPIRE takes whole milliseconds: round up, never expire early.
			p.PExpire(ctx, key, (q.Window + time.Millisecond - 1).Truncate(time.Millisecond))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) { // Nil: a ZSCORE of an absent member
		return nil, fmt.Errorf("count velocity events in redis: %w", err)
	}
	counts := make([]int, len(qs))
	for i, r := range replies {
		n, err := r.count.Result()
		if err != nil {
			return nil, fmt.Errorf("count velocity events in redis: %w", err)
		}
		counts[i] = int(n) + 1 // the current event
		if r.score == nil {
			continue
		}
		last, err := r.score.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fmt.Errorf("count velocity events in redis: %w", err)
		case int64(last) > now-qs[i].Window.Microseconds():
			counts[i]-- // the member is already counted in the window
		}
	}
	return counts, nil
}

// eventID is a member unique to one event: two events at the same
// microsecond, on any replica, must not collapse into one.
func eventID(at time.Time) string {
	return strconv.FormatInt(at.UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

// redacted returns rawURL without its password, for messages.
func redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable REDIS_URL)"
	}
	return u.Redacted()
}
