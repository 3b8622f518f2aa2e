package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/tracelog"
	"github.com/shardgen/shardgen/runtime"
)

// logQueries installs, through the runtime's pgx hooks
// (Config.ConfigurePool), pgx's tracelog on every server's pool, writing to
// l: each statement at slog.LevelInfo, each failed one at slog.LevelError,
// with the group (or database), logical shard, schema and server it ran on
// (runtime.TargetFromContext). Statements that serve many shards of a
// server at once (migrations, fan-out rounds) have no one target: their
// lines name the pool's users instead ("pool=blog/a", "pool=default,analytics" when they share one).
// Statements below level are not logged, and not timed or formatted either.
func logQueries(cfg *runtime.Config, l *slog.Logger, level slog.Level) {
	cfg.ConfigurePool = func(pi runtime.PoolInfo, pc *pgxpool.Config) error {
		users := slices.Clone(pi.Databases)
		for _, gs := range pi.Servers {
			users = append(users, gs.Group+"/"+gs.Server)
		}
		pc.ConnConfig.Tracer = &tracelog.TraceLog{Logger: slogLogger{l, strings.Join(users, ",")}, LogLevel: tracelogLevel(level)}
		return nil
	}
}

// slogLogger is tracelog.Logger on a *slog.Logger, for the pool whose
// users (databases, group/server) are pool.
type slogLogger struct {
	l    *slog.Logger
	pool string
}

func (s slogLogger) Log(ctx context.Context, level tracelog.LogLevel, msg string, data map[string]any) {
	attrs := make([]slog.Attr, 0, len(data)+5)
	if t, ok := runtime.TargetFromContext(ctx); ok {
		if t.Group() != "" {
			attrs = append(attrs, slog.String("group", t.Group()), slog.Int("shard", int(t.Shard())))
		} else {
			attrs = append(attrs, slog.String("database", t.Database()))
		}
		attrs = append(attrs, slog.String("schema", strings.Trim(t.Schema(), `"`)), slog.String("server", t.Server().Name()))
	} else {
		attrs = append(attrs, slog.String("pool", s.pool))
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		// The connection's pid and the statement's arguments (user data)
		// stay out of the demo's lines.
		if k != "args" && k != "pid" {
			attrs = append(attrs, slog.Any(k, data[k]))
		}
	}
	s.l.LogAttrs(ctx, slogLevel(level), msg, attrs...)
}

func slogLevel(l tracelog.LogLevel) slog.Level {
	switch l {
	case tracelog.LogLevelError:
		return slog.LevelError
	case tracelog.LogLevelWarn:
		return slog.LevelWarn
	case tracelog.LogLevelInfo:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

func tracelogLevel(l slog.Level) tracelog.LogLevel {
	switch {
	case l >= slog.LevelError:
		return tracelog.LogLevelError
	case l >= slog.LevelWarn:
		return tracelog.LogLevelWarn
	case l >= slog.LevelInfo:
		return tracelog.LogLevelInfo
	default:
		return tracelog.LogLevelDebug
	}
}

// parseLogLevel reads the -log flag: off, or a slog level (debug, info,
// warn, error).
func parseLogLevel(s string) (level slog.Level, on bool, err error) {
	if s == "off" {
		return 0, false, nil
	}
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, false, fmt.Errorf("-log %q: want off, debug, info, warn or error", s)
	}
	return level, true, nil
}
