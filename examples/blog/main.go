// Command blog runs the shardgen example blog end to end: users on the
// default database, posts and comments sharded by author over the logical
// shards of group "blog" on two physical servers, and page views on the
// analytics database.
//
// With no configuration it starts two throwaway PostgreSQL servers from the
// local binaries (see runtime/pgtest), splits the 16 logical shards of
// group "blog" between them by range (0-7 on server a, 8-15 on server b),
// puts the default and analytics databases on server a, and removes
// everything when it ends:
//
//	go run ./examples/blog
//
// To use servers of your own, give a JSON config file (the format of
// runtime.LoadConfigFile):
//
//	go run ./examples/blog -config shards.json
//
// or the SHARDGEN_* environment variables of runtime.ConfigFromEnv:
//
//	SHARDGEN_DATABASE_DEFAULT_URL=postgres://app@db0/app \
//	SHARDGEN_DATABASE_ANALYTICS_URL=postgres://app@db0/analytics \
//	SHARDGEN_GROUP_BLOG_SERVERS=a,b \
//	SHARDGEN_GROUP_BLOG_SERVER_A_URL=postgres://app@db1/blog SHARDGEN_GROUP_BLOG_SERVER_A_SHARDS=0-7 \
//	SHARDGEN_GROUP_BLOG_SERVER_B_URL=postgres://app@db2/blog SHARDGEN_GROUP_BLOG_SERVER_B_SHARDS=8-15 \
//	go run ./examples/blog
//
// The demo migrates every database and shard schema (idempotently), so it
// can be run again against the same servers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
	"github.com/shardgen/shardgen/runtime/redistest"
	"github.com/shardgen/shardgen/runtime/shardredis"
)

func main() {
	configPath := flag.String("config", "", "JSON config file with the database and shard server URLs (default: SHARDGEN_* environment variables, else throwaway servers)")
	grow := flag.Bool("grow", false, "afterwards, start a third throwaway server and move shards 12-15 to it while writing (see the README's \"Growing onto a new server\")")
	logLevel := flag.String("log", "error", "log the statements of this slog level and above to stderr, with their group, shard and server: debug or info (every statement), error (failed ones), off")
	pgBin := flag.String("pgbin", "", "directory of initdb, pg_ctl and postgres for the throwaway servers (default: "+pgtest.DefaultBinDir+" or PATH)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: blog [-config shards.json] [-pgbin dir] [-log level] [-grow]\n\n"+
			"Runs the shardgen example blog against throwaway PostgreSQL servers, or\n"+
			"against the servers named by -config or the SHARDGEN_* environment variables.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	level, on, err := parseLogLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "blog: %v\n", err)
		os.Exit(2)
	}
	if on {
		queryLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		queryLogLevel = level
	}

	// Ctrl-C cancels the run; the deferred shutdown still stops the
	// throwaway servers and removes their data. So does a closed output
	// (go run ./examples/blog | head): SIGPIPE cancels instead of killing
	// the process before it cleans up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()
	if err := run(ctx, os.Stdout, os.Environ(), *configPath, *pgBin, *grow); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "blog: interrupted, everything it started is stopped and removed: %v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "blog: %v\n", err)
		}
		stop()
		os.Exit(1)
	}
}

// run resolves where the data lives (configPath, else the SHARDGEN_*
// variables of environ, else throwaway servers), then runs the demo.
func run(ctx context.Context, out io.Writer, environ []string, configPath, pgBin string, grow bool) error {
	p := newPrinter(out)
	p.linef("shardgen example: the DjangoCon 2013 blog. Users on the default database, posts and")
	p.linef("comments sharded by author over 16 logical shards on two servers, page views on analytics.")
	cfg, source, err := loadConfig(configPath, environ)
	if err != nil {
		return err
	}
	if grow && cfg != nil {
		return errors.New("-grow runs on throwaway servers only; with servers of your own, use shardgen move (see the README)")
	}
	opts := pgtest.Options{BinDir: pgBin}
	if grow {
		opts.Settings = logicalSettings
	}
	if cfg == nil {
		p.section("Starting two throwaway PostgreSQL servers")
		tw, err := startThrowaway(ctx, p, opts)
		if err != nil {
			return err
		}
		defer func() {
			p.section("Shutting down")
			if err := p.step("stopping the throwaway servers and removing their data", tw.Close); err != nil {
				fmt.Fprintf(os.Stderr, "blog: %v\n", err)
			}
		}()
		c := tw.Config()
		cfg, source = &c, sourceThrowaway
	}
	res, err := Demo(ctx, p, *cfg, source, Options{RunTag: runTag(source), Log: queryLog, LogLevel: queryLogLevel})
	if err != nil {
		return err
	}
	if err := runRedis(ctx, p, *cfg, source, configPath, environ, res.Users); err != nil || !grow {
		return err
	}
	c, err := startThird(ctx, p, opts, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = Grow(ctx, p, *cfg)
	return err
}

// queryLog and queryLogLevel are the -log flag's: run passes them to Demo.
var (
	queryLog      *slog.Logger
	queryLogLevel slog.Level
)

// runRedis runs the Redis part of the demo (RedisDemo): on two throwaway
// redis-servers beside the throwaway PostgreSQL servers, or on the Redis
// servers of the config file's "redis" section or the SHARDGEN_REDIS_*
// variables. Without a redis-server binary or a Redis configuration it says
// so and skips the part.
func runRedis(ctx context.Context, p *printer, cfg runtime.Config, source, configPath string, environ []string, authors []blogdb.UserID) error {
	var rcfg shardredis.Config
	var err error
	switch {
	case source == sourceThrowaway:
		if _, err := redistest.Bin(redistest.Options{}); err != nil {
			p.section("Redis (skipped)")
			p.linef("no redis-server to start (apt-get install redis-server): %v", err)
			return nil
		}
		p.section("Starting two throwaway Redis servers")
		var rs []*redistest.Server
		err := p.step("redis-server twice on 127.0.0.1, append-only file fsynced on every write", func() error {
			var err error
			rs, err = redistest.StartServers(ctx, 2, redistest.Options{Persistence: redistest.AOFAlways})
			return err
		})
		if err != nil {
			return err
		}
		defer func() {
			_ = p.step("stopping the throwaway Redis servers and removing their data", func() error {
				var errs []error
				for _, s := range rs {
					errs = append(errs, s.Close())
				}
				return errors.Join(errs...)
			})
		}()
		rcfg = throwawayRedisConfig(rs[0].URL(), rs[1].URL())
	case configPath != "":
		rcfg, err = shardredis.LoadConfigFile(configPath)
	default:
		rcfg, err = shardredis.ConfigFromEnviron(environ)
	}
	if err != nil {
		return err
	}
	if len(rcfg.Groups) == 0 {
		p.section("Redis (skipped)")
		p.linef("no Redis servers configured: the \"redis\" section of the config file or SHARDGEN_REDIS_* variables (see runtime/shardredis)")
		return nil
	}
	_, err = RedisDemo(ctx, p, cfg, rcfg, authors)
	return err
}

// throwawayRedisConfig puts the shards of group blog on two Redis servers by
// the same ranges as the databases, and the timeline (named "timeline", not
// sharded) on the first.
func throwawayRedisConfig(url0, url1 string) shardredis.Config {
	return shardredis.Config{
		Groups: map[string][]runtime.ServerConfig{"blog": {
			{Name: "r0", URL: url0, Shards: "0-7"},
			{Name: "r1", URL: url1, Shards: "8-15"},
		}},
		Named: map[string]string{"timeline": url0},
	}
}

// loadConfig returns the configuration given by -config or the environment,
// or nil when none is given. source describes where it came from.
func loadConfig(path string, environ []string) (*runtime.Config, string, error) {
	if path != "" {
		cfg, err := runtime.LoadConfigFile(path)
		if err != nil {
			return nil, "", err
		}
		return &cfg, "config file " + path, nil
	}
	cfg, err := runtime.ConfigFromEnviron(environ)
	if err != nil {
		return nil, "", fmt.Errorf("reading SHARDGEN_* environment variables: %w", err)
	}
	if len(cfg.Databases) == 0 && len(cfg.Groups) == 0 {
		return nil, "", nil
	}
	return &cfg, "SHARDGEN_* environment variables", nil
}

// sourceThrowaway is the source of the configuration of the servers the
// demo starts itself.
const sourceThrowaway = "throwaway servers"

// runTag makes the demo's unique values (user e-mail addresses) unique per
// run on servers that outlive it; throwaway servers start empty.
func runTag(source string) string {
	if source == sourceThrowaway {
		return ""
	}
	return fmt.Sprintf("%x", time.Now().UnixMilli())
}

// throwaway is the two servers the demo starts when given no configuration.
type throwaway struct {
	a, b *pgtest.Server
}

// The databases created on the throwaway servers: default (app) and
// analytics on server a only, blog (the shard schemas) on both.
const (
	dbDefault   = "app"
	dbAnalytics = "analytics"
	dbBlog      = "blog"
)

// startThrowaway starts servers a and b and creates their databases.
func startThrowaway(ctx context.Context, p *printer, opts pgtest.Options) (*throwaway, error) {
	if _, err := pgtest.BinDir(opts); err != nil {
		return nil, fmt.Errorf("%v\n  install PostgreSQL (Debian: apt-get install postgresql) or give -config / SHARDGEN_* URLs of running servers", err)
	}
	var servers []*pgtest.Server
	err := p.step("initdb once, copy the cluster, start both on 127.0.0.1", func() error {
		var err error
		servers, err = pgtest.StartServers(ctx, 2, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	tw := &throwaway{a: servers[0], b: servers[1]}
	err = p.step("create databases app, analytics and blog on server a; blog on server b", func() error {
		for _, db := range []string{dbDefault, dbAnalytics, dbBlog} {
			if err := tw.a.CreateDatabase(ctx, db); err != nil {
				return err
			}
		}
		return tw.b.CreateDatabase(ctx, dbBlog)
	})
	if err != nil {
		return nil, errors.Join(err, tw.Close())
	}
	return tw, nil
}

// Config maps the blog's databases and shards onto the two servers, the way
// hypervault maps ranges of logical shards to hosts.
func (tw *throwaway) Config() runtime.Config {
	return throwawayConfig(tw.a, tw.b)
}

func throwawayConfig(a, b *pgtest.Server) runtime.Config {
	return runtime.Config{
		Databases: map[string]string{
			"default":   a.URL(dbDefault),
			"analytics": a.URL(dbAnalytics),
		},
		Groups: map[string][]runtime.ServerConfig{
			"blog": {
				{Name: "a", URL: a.URL(dbBlog), Shards: "0-7"},
				{Name: "b", URL: b.URL(dbBlog), Shards: "8-15"},
			},
		},
		Pool: runtime.PoolConfig{MaxConns: 4, AcquireTimeout: 5 * time.Second},
	}
}

// Close stops both servers and removes their data directories.
func (tw *throwaway) Close() error {
	return errors.Join(tw.a.Close(), tw.b.Close())
}
