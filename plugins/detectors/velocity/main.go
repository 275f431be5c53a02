// Command velocity is gavel's built-in velocity detector plugin; the host
// starts it. Its store is SQLite under the detector's data folder, or Redis,
// shared by several replicas, when REDIS_URL is configured
// (env: {redis_url: redis://host:6379/0}).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gavel/gavel/plugins/detectors/velocity/window"
	"github.com/gavel/gavel/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	cfg, err := window.LoadConfig(sdk.Env)
	if err != nil {
		log.Error("bad configuration", "error", err)
		os.Exit(1)
	}
	var store interface {
		window.Counter
		Close() error
	}
	if cfg.RedisURL != "" {
		redis.SetLogger(redisLog{log})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		store, err = window.OpenRedis(ctx, cfg.RedisURL)
		cancel()
	} else {
		store, err = window.Open(filepath.Join(sdk.DataDir(), "velocity.db"))
	}
	if err != nil {
		log.Error("cannot open store", "error", err)
		os.Exit(1)
	}
	defer store.Close()
	sdk.Serve(window.NewDetector(store, cfg))
}

// redisLog sends go-redis's own messages (failed dials, pool errors) to the
// detector's structured log instead of the standard logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...)) // already "redis: …"
}
