package bundles

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/open-policy-agent/opa/v1/logging"
)

// opaLogger bridges OPA's logger to slog, so OPA's own messages (downloads,
// activations, verification failures) land in gavel's log with the bundle
// key. It is the only place OPA logging is adapted.
type opaLogger struct{ l *slog.Logger }

var _ logging.Logger = opaLogger{}

// routine are OPA messages logged at info on every tick, whether or not
// anything happened (the decision logger reports an upload of an empty
// buffer as a success): gavel logs them at debug.
var routine = map[string]bool{
	"Logs uploaded successfully.": true,
}

func (o opaLogger) log(level slog.Level, format string, a []any) {
	ctx := context.Background()
	if level == slog.LevelInfo && routine[format] {
		level = slog.LevelDebug
	}
	if !o.l.Enabled(ctx, level) {
		return
	}
	o.l.Log(ctx, level, fmt.Sprintf(format, a...))
}

func (o opaLogger) Debug(format string, a ...any) { o.log(slog.LevelDebug, format, a) }
func (o opaLogger) Info(format string, a ...any)  { o.log(slog.LevelInfo, format, a) }
func (o opaLogger) Warn(format string, a ...any)  { o.log(slog.LevelWarn, format, a) }
func (o opaLogger) Error(format string, a ...any) { o.log(slog.LevelError, format, a) }

// WithFields adds OPA's fields with an "opa_" prefix, sorted.
func (o opaLogger) WithFields(fields map[string]any) logging.Logger {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, "opa_"+k, fields[k])
	}
	return opaLogger{o.l.With(args...)}
}

// GetLevel reports the most verbose level the slog handler accepts.
func (o opaLogger) GetLevel() logging.Level {
	ctx := context.Background()
	switch {
	case o.l.Enabled(ctx, slog.LevelDebug):
		return logging.Debug
	case o.l.Enabled(ctx, slog.LevelInfo):
		return logging.Info
	case o.l.Enabled(ctx, slog.LevelWarn):
		return logging.Warn
	default:
		return logging.Error
	}
}

// SetLevel is a no-op: the level belongs to gavel's slog handler.
func (opaLogger) SetLevel(logging.Level) {}
