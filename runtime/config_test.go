package runtime

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var testSpec = Spec{
	Databases: []DatabaseSpec{{Name: "default"}, {Name: "analytics"}},
	Groups:    []GroupSpec{{Name: "blog", Shards: 16}},
}

func validConfig() Config {
	return Config{
		Databases: map[string]string{
			"default":   "postgres://app@db0:5432/app",
			"analytics": "host=db9 port=5433 dbname=analytics user=app",
		},
		Groups: map[string][]ServerConfig{"blog": {
			{Name: "a", URL: "postgres://app@db1/app", Shards: "0-7"},
			{Name: "b", URL: "postgres://app@db2/app", Shards: "8-15"},
		}},
	}
}

func TestConfigValid(t *testing.T) {
	if err := validConfig().Validate(testSpec); err != nil {
		t.Fatal(err)
	}
	// A single-shard range and servers listed out of order are fine.
	c := validConfig()
	c.Groups["blog"] = []ServerConfig{
		{Name: "c", URL: "postgres://app@db3/app", Shards: "15"},
		{Name: "a", URL: "postgres://app@db1/app", Shards: "0-7"},
		{Name: "b", URL: "postgres://app@db2/app", Shards: " 8 - 14 "},
	}
	if err := c.Validate(testSpec); err != nil {
		t.Fatal(err)
	}
	// A URL naming a Unix-domain socket directory (host starts with '/')
	// is not a misparsed password.
	c = validConfig()
	c.Groups["blog"][0].URL = "postgres://app@/app?host=%2Frun%2Fpostgresql&port=5433"
	if err := c.Validate(testSpec); err != nil {
		t.Fatal(err)
	}
	// A server with no shards yet (the target of a move) is fine.
	c = validConfig()
	c.Groups["blog"] = append(c.Groups["blog"], ServerConfig{Name: "c", URL: "postgres://app@db3/app"})
	if err := c.Validate(testSpec); err != nil {
		t.Fatal(err)
	}
}

// problemsOf returns the ConfigError's problems, failing if err is another
// kind of error.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want *ConfigError", err, err)
	}
	return ce.Problems
}

func TestConfigProblems(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config, *Spec)
		want []string // each must be one problem, in order
	}{
		{"missing database", func(c *Config, _ *Spec) { delete(c.Databases, "analytics") },
			[]string{`database "analytics" has no connection string (set Config.Databases["analytics"], or SHARDGEN_DATABASE_ANALYTICS_URL)`}},
		{"unknown database", func(c *Config, _ *Spec) { c.Databases["analytcs"] = "postgres://x@y/z" },
			[]string{`database "analytcs" is configured but the Spec does not declare it; did you mean "analytics"?`}},
		{"missing group", func(c *Config, _ *Spec) { delete(c.Groups, "blog") },
			[]string{`group "blog" has no servers (set Config.Groups["blog"], or SHARDGEN_GROUP_BLOG_SERVERS)`}},
		{"unknown group", func(c *Config, _ *Spec) { c.Groups["users"] = c.Groups["blog"] },
			[]string{`group "users" is configured but the Spec does not declare it; the Spec declares: blog`}},
		{"gap", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "9-15" },
			[]string{`group "blog": shards 8 are not mapped to any server`}},
		{"gap at end", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "8-13" },
			[]string{`group "blog": shards 14-15 are not mapped to any server`}},
		{"gap at start", func(c *Config, _ *Spec) { c.Groups["blog"][0].Shards = "2-7" },
			[]string{`group "blog": shards 0-1 are not mapped to any server`}},
		{"overlap", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "6-15" },
			[]string{`group "blog": servers "a" and "b" both claim shards 6-7`}},
		{"beyond count", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "8-16" },
			[]string{`group "blog" server "b": shard range 8-16 exceeds the group's 16 shards (0-15)`}},
		{"backwards range", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "15-8" },
			[]string{`group "blog" server "b": shard range "15-8" ends before it starts`}},
		{"bad range", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "8..15" },
			[]string{`group "blog" server "b": shard range "8..15" is not of the form first-last or n (want e.g. "0-2047" or "7")`}},
		{"URL as range", func(c *Config, _ *Spec) { c.Groups["blog"][1].Shards = "postgres://app:S3cr3t@db/app" },
			[]string{`group "blog" server "b": shard range (value not shown) is not of the form first-last or n (want e.g. "0-2047" or "7")`}},
		{"bad URL and gap", func(c *Config, _ *Spec) {
			c.Groups["blog"][0].URL = "postgres://app:x@db:port/app"
			c.Groups["blog"][1].Shards = "9-15"
		},
			[]string{`group "blog" server "a": connection string (a postgres:// URL): invalid port (a password or user name containing / # ? @ : or % must be percent-encoded: %2F %23 %3F %40 %3A %25)`,
				`group "blog": shards 8 are not mapped to any server`}},
		{"unescaped slash in password", func(c *Config, _ *Spec) { c.Groups["blog"][0].URL = "postgres://app:8842/kX9qLeak@db1/app" },
			[]string{`group "blog" server "a": connection URL parses with '@' or '/' in its host or database name: a password or user name containing / # ? @ : or % must be percent-encoded (%2F %23 %3F %40 %3A %25)`}},
		{"missing sslrootcert", func(c *Config, _ *Spec) {
			c.Groups["blog"][0].URL = "postgres://app:S3cr3t@db1/app?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"
		}, []string{`group "blog" server "a": connection string names a file that cannot be read: open /nonexistent/root.crt: no such file or directory`}},
		{"negative range", func(c *Config, _ *Spec) { c.Groups["blog"][0].Shards = "-1-7" },
			[]string{`group "blog" server "a": shard range "-1-7" is not of the form first-last or n (want e.g. "0-2047" or "7")`}},
		// An empty range is a server that holds no shard yet (a move's
		// target); the shards it would have held are then unmapped.
		{"empty range", func(c *Config, _ *Spec) { c.Groups["blog"][0].Shards = "" },
			[]string{`group "blog": shards 0-7 are not mapped to any server`}},
		{"blank range", func(c *Config, _ *Spec) { c.Groups["blog"][0].Shards = "-" },
			[]string{`group "blog" server "a": shard range "-" is not of the form first-last or n (want e.g. "0-2047" or "7")`}},
		{"duplicate server", func(c *Config, _ *Spec) { c.Groups["blog"][1].Name = "a" },
			[]string{`group "blog" server "a" is listed twice`}},
		{"unsafe server name", func(c *Config, _ *Spec) { c.Groups["blog"][1].Name = `b"; DROP TABLE x; --` },
			[]string{`group "blog" server #2: server name "b\"; DROP TABLE x; --" is not a lower-case identifier (must match ^[a-z_][a-z0-9_]*$)`}},
		{"empty URL", func(c *Config, _ *Spec) { c.Groups["blog"][0].URL = "" },
			[]string{`group "blog" server "a": connection string is empty`}},
		{"unsafe group name", func(c *Config, s *Spec) {
			s.Groups[0].Name = `blog"."x`
			c.Groups[`blog"."x`] = c.Groups["blog"]
			delete(c.Groups, "blog")
		}, []string{`spec: group name "blog\".\"x" is not a lower-case identifier (must match ^[a-z_][a-z0-9_]*$)`}},
		{"group name too long", func(c *Config, s *Spec) {
			long := strings.Repeat("g", 59)
			s.Groups[0].Name = long
			c.Groups[long] = c.Groups["blog"]
			delete(c.Groups, "blog")
		}, []string{`spec: group name "` + strings.Repeat("g", 59) + `" is longer than 58 bytes`}},
		{"shards not power of two", func(c *Config, s *Spec) { s.Groups[0].Shards = 12; c.Groups["blog"][1].Shards = "8-11" },
			[]string{`spec: group "blog" has 12 shards; want a power of two between 1 and 8192`}},
		{"pool", func(c *Config, _ *Spec) { c.Pool.MaxConns = -1; c.Pool.AcquireTimeout = -time.Second },
			[]string{`pool: MaxConns is -1; want at least 1 (or 0 for the default 8)`, `pool: AcquireTimeout is negative (-1s)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			spec := Spec{Databases: append([]DatabaseSpec(nil), testSpec.Databases...), Groups: append([]GroupSpec(nil), testSpec.Groups...)}
			c.edit(&cfg, &spec)
			got := problemsOf(t, cfg.Validate(spec))
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if _, err := Open(context.Background(), cfg, spec); err == nil {
				t.Error("Open accepted the config")
			}
		})
	}
}

func TestConfigAllProblemsAtOnce(t *testing.T) {
	cfg := validConfig()
	delete(cfg.Databases, "default")
	cfg.Groups["blog"][0].Shards = "0-5"
	cfg.Groups["blog"][1].Name = "B"
	got := problemsOf(t, cfg.Validate(testSpec))
	if len(got) != 3 {
		// The gap is computed once every range parses: a bad server name
		// (or connection string) does not hide it.
		t.Fatalf("got %d problems, want 3:\n%s", len(got), strings.Join(got, "\n"))
	}
}

// Passwords must never reach an error message, whatever the failure.
func TestConfigErrorsNeverContainPassword(t *testing.T) {
	const pw = "S3cr3t-Pa55"
	bad := []string{
		"postgres://app:" + pw + "@db1:notaport/app",
		"postgres://app:" + pw + "@db1/app?sslmode=bogus",
		"host=db1 port=notaport user=app password=" + pw,
		"host=db1 user=app password='" + pw + "' sslmode=bogus",
		"host=db1 password=" + pw + " bogus",
	}
	for _, u := range bad {
		cfg := validConfig()
		cfg.Databases["default"] = u
		cfg.Groups["blog"][0].URL = u
		err := cfg.Validate(testSpec)
		if err == nil {
			t.Fatalf("config with %q validated", u)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error contains the password:\n%v", err)
		}
		if len(problemsOf(t, err)) != 2 {
			t.Errorf("want 2 problems for %q, got:\n%v", u, err)
		}
	}
	// Env and JSON loaders too.
	_, err := ConfigFromEnviron([]string{"SHARDGEN_GROUP_BLOG_SERVERS=a", "SHARDGEN_GROUP_BLOG_SERVER_A_URL=postgres://u:" + pw + "@h/d"})
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("env error: %v", err)
	}
	_, err = ParseConfigJSON([]byte(`{"databases": {"default": "postgres://u:`+pw+`@h/d"}, "bogus": 1}`), nil)
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("JSON error: %v", err)
	}
	_, err = ParseConfigJSON([]byte(`{"databases": {"default": 42}}`), nil)
	if err == nil {
		t.Error("JSON with a non-string URL parsed")
	}
}

// Connection failures are reported with the server's name and address, never
// the password, for URL and keyword=value DSNs.
func TestConnectErrorsNeverContainPassword(t *testing.T) {
	const pw = "S3cr3t-Pa55"
	for _, u := range []string{
		"postgres://app:" + pw + "@127.0.0.1:1/app?connect_timeout=1",
		"host=127.0.0.1 port=1 user=app password=" + pw + " dbname=app",
	} {
		spec := Spec{Databases: []DatabaseSpec{{Name: "default"}}}
		r, err := Open(context.Background(), Config{Databases: map[string]string{"default": u}, Pool: PoolConfig{AcquireTimeout: time.Second}}, spec)
		if err != nil {
			t.Fatalf("Open must not connect: %v", err)
		}
		db, _ := r.Database("default")
		_, err = db.Target().Exec(context.Background(), db.Prepare("SELECT 1"))
		r.Close()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error contains the password: %v", err)
		}
		if !strings.Contains(err.Error(), `database "default": server unavailable`) {
			t.Errorf("error does not name the server: %v", err)
		}
	}
}

func TestConfigFromEnviron(t *testing.T) {
	env := []string{
		"PATH=/bin",
		"SHARDGEN_TEST_DATABASE_URL=postgres://ignored",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVERS=r1", // shardredis's
		"DATABASE_URL=postgres://app@db0/app",
		"SHARDGEN_DATABASE_ANALYTICS_URL=host=db9 dbname=analytics",
		"SHARDGEN_GROUP_BLOG_SERVERS=a, b_2",
		"SHARDGEN_GROUP_BLOG_SERVER_A_URL=postgres://app@db1/app",
		"SHARDGEN_GROUP_BLOG_SERVER_A_SHARDS=0-7",
		"SHARDGEN_GROUP_BLOG_SERVER_B_2_URL=postgres://app@db2/app",
		"SHARDGEN_GROUP_BLOG_SERVER_B_2_SHARDS=8-15",
		"SHARDGEN_POOL_MAX_CONNS=3",
		"SHARDGEN_POOL_ACQUIRE_TIMEOUT=250ms",
		"SHARDGEN_POOL_QUERY_EXEC_MODE=cache_describe",
	}
	cfg, err := ConfigFromEnviron(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(testSpec); err != nil {
		t.Fatal(err)
	}
	if cfg.Databases["default"] != "postgres://app@db0/app" || cfg.Databases["analytics"] != "host=db9 dbname=analytics" {
		t.Errorf("databases: %v", cfg.Databases)
	}
	want := []ServerConfig{{"a", "postgres://app@db1/app", "0-7"}, {"b_2", "postgres://app@db2/app", "8-15"}}
	if got := cfg.Groups["blog"]; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("blog servers = %v, want %v", got, want)
	}
	if cfg.Pool.MaxConns != 3 || cfg.Pool.AcquireTimeout != 250*time.Millisecond || cfg.Pool.QueryExecMode != pgx.QueryExecModeCacheDescribe {
		t.Errorf("pool = %+v", cfg.Pool)
	}

	// An explicit SHARDGEN_DATABASE_DEFAULT_URL beats DATABASE_URL.
	cfg, err = ConfigFromEnviron(append(env, "SHARDGEN_DATABASE_DEFAULT_URL=postgres://app@other/app"))
	if err != nil || cfg.Databases["default"] != "postgres://app@other/app" {
		t.Errorf("default = %q, %v", cfg.Databases["default"], err)
	}

	_, err = ConfigFromEnviron([]string{
		"SHARDGEN_GROUP_BLOG_SERVERS=a,b",
		"SHARDGEN_GROUP_BLOG_SERVER_A_URL=postgres://app@db1/app",
		"SHARDGEN_GROUP_BLOG_SERVER_A_SHARDS=0-7",
		"SHARDGEN_GROUP_BLOG_SERVER_B_URL=postgres://app@db2/app",
		"SHARDGEN_GROUP_BLOG_SERVER_C_SHARDS=8-15",
		"SHARDGEN_POOL_MAX_CONN=3",
		"SHARDGEN_POOL_ACQUIRE_TIMEOUT=soon",
	})
	want2 := []string{
		`SHARDGEN_GROUP_BLOG_SERVERS lists server "b" but SHARDGEN_GROUP_BLOG_SERVER_B_SHARDS is not set`,
		`SHARDGEN_POOL_ACQUIRE_TIMEOUT is not a Go duration (want e.g. 5s, 250ms; the value is not shown)`,
		`unknown variable SHARDGEN_GROUP_BLOG_SERVER_C_SHARDS (see the runtime package documentation for the SHARDGEN_* variables)`,
		`unknown variable SHARDGEN_POOL_MAX_CONN; did you mean SHARDGEN_POOL_MAX_CONNS? (see the runtime package documentation for the SHARDGEN_* variables)`,
	}
	if got := problemsOf(t, err); strings.Join(got, "\n") != strings.Join(want2, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want2, "\n"))
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shards.json")
	data := `{
	  "databases": {"default": "postgres://app:${TEST_PW}@db0/app", "analytics": "host=db9 dbname=analytics"},
	  "groups": {"blog": [
	    {"name": "a", "url": "postgres://app@db1/app", "shards": "0-7"},
	    {"name": "b", "url": "postgres://app@db2/app", "shards": "8-15"}
	  ]},
	  "pool": {"max_conns": 4, "acquire_timeout": "2s", "query_exec_mode": "exec"}
	}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_PW", "pw$1")
	cfg, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(testSpec); err != nil {
		t.Fatal(err)
	}
	if cfg.Databases["default"] != "postgres://app:pw%241@db0/app" {
		t.Errorf("expansion: %q", cfg.Databases["default"])
	}
	if cfg.Pool.MaxConns != 4 || cfg.Pool.AcquireTimeout != 2*time.Second || cfg.Pool.QueryExecMode != pgx.QueryExecModeExec {
		t.Errorf("pool = %+v", cfg.Pool)
	}
	// The same file through SHARDGEN_CONFIG, with an override.
	cfg, err = ConfigFromEnviron([]string{"SHARDGEN_CONFIG=" + path, "SHARDGEN_POOL_MAX_CONNS=9"})
	if err != nil || cfg.Pool.MaxConns != 9 || len(cfg.Groups["blog"]) != 2 {
		t.Errorf("SHARDGEN_CONFIG: %+v, %v", cfg.Pool, err)
	}

	_, err = ParseConfigJSON([]byte(`{"databases": {"default": "postgres://app:${NOPE_NOT_SET}@db0/app"}}`), os.LookupEnv)
	if got := problemsOf(t, err); len(got) != 1 || got[0] != "databases.default: environment variable NOPE_NOT_SET is not set" {
		t.Errorf("problems: %v", got)
	}
	if _, err := LoadConfigFile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSchemaNames(t *testing.T) {
	for _, c := range []struct {
		group string
		shard Shard
		want  string
	}{{"blog", 0, "blog_0000"}, {"blog", 7, "blog_0007"}, {"u", 8191, "u_8191"}} {
		if got := SchemaName(c.group, c.shard); got != c.want {
			t.Errorf("SchemaName(%q, %d) = %q, want %q", c.group, c.shard, got, c.want)
		}
	}
	if got := QuoteIdent(`a"b`); got != `"a""b"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := renderSQL("SELECT @shard@ FROM @schema@.t", "blog", 7); got != `SELECT 7 FROM "blog_0007".t` {
		t.Errorf("renderSQL = %s", got)
	}
}

func TestShardErrorMessages(t *testing.T) {
	cause := errors.New("boom")
	for _, c := range []struct {
		err  *ShardError
		want string
	}{
		{&ShardError{Group: "blog", Shard: 7, Server: "a", Err: cause}, `group blog shard 7 (blog_0007) on server "a": boom`},
		{&ShardError{Group: "blog", Shard: 99, Err: cause}, `group blog shard 99 (blog_0099): boom`},
		{&ShardError{Shard: -1, Server: "analytics", Err: cause}, `database "analytics": boom`},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
		if !errors.Is(c.err, cause) {
			t.Errorf("%v does not unwrap to its cause", c.err)
		}
	}
	nf := &ShardError{Group: "blog", Shard: 1, Server: "a", Err: notFound}
	if !errors.Is(nf, ErrNotFound) || !errors.Is(nf, pgx.ErrNoRows) || errors.Is(nf, ErrUnavailable) {
		t.Errorf("not-found error matches wrongly: %v", nf)
	}
	fe := &FanOutError{Group: "blog", Failed: []*ShardError{{Group: "blog", Shard: 3, Server: "b", Err: ErrUnavailable}}}
	if !errors.Is(fe, ErrUnavailable) {
		t.Errorf("FanOutError does not unwrap: %v", fe)
	}
}

// A server that accepts TCP connections but never answers (a hung host)
// fails with ErrUnavailable within the acquire timeout; Open does not
// wait for it.
func TestHungServerWithinTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read or answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()

	const timeout = 400 * time.Millisecond
	spec := Spec{Groups: []GroupSpec{{Name: "blog", Shards: 2}}}
	cfg := Config{
		Groups: map[string][]ServerConfig{"blog": {
			{Name: "hung", URL: "postgres://app@" + l.Addr().String() + "/app", Shards: "0-1"},
		}},
		Pool: PoolConfig{AcquireTimeout: timeout},
	}
	start := time.Now()
	r, err := Open(context.Background(), cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Open took %s; it must not connect", d)
	}
	g, _ := r.Group("blog")
	start = time.Now()
	_, err = g.At(1).Exec(context.Background(), g.Prepare("SELECT 1 FROM @schema@.t"))
	elapsed := time.Since(start)
	var se *ShardError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &se) || se.Server != "hung" || se.Shard != 1 {
		t.Fatalf("got %v, want ErrUnavailable on server hung, shard 1", err)
	}
	if elapsed < timeout/2 || elapsed > timeout+300*time.Millisecond {
		t.Errorf("failed after %s, want about %s", elapsed, timeout)
	}
	t.Logf("hung server failed after %s: %v", elapsed.Round(time.Millisecond), err)
}

// Unknown SHARDGEN_ variables anywhere are errors with a did-you-mean, and
// a misspelt database variable never lets DATABASE_URL win silently.
func TestConfigFromEnvironUnknownVariables(t *testing.T) {
	for _, c := range []struct{ v, want string }{
		{"SHARDGEN_CONFG=/etc/x.json", "unknown variable SHARDGEN_CONFG; did you mean SHARDGEN_CONFIG?"},
		{"SHARDGEN_DATABSE_DEFAULT_URL=postgres://app@right/app", "unknown variable SHARDGEN_DATABSE_DEFAULT_URL; did you mean SHARDGEN_DATABASE_DEFAULT_URL?"},
		{"SHARDGEN_GRUOP_BLOG_SERVERS=a", "unknown variable SHARDGEN_GRUOP_BLOG_SERVERS; did you mean SHARDGEN_GROUP_BLOG_SERVERS?"},
		{"SHARDGEN_DATABASE_DEFAULT=postgres://app@right/app", "unknown variable SHARDGEN_DATABASE_DEFAULT; did you mean SHARDGEN_DATABASE_DEFAULT_URL?"},
		{"SHARDGEN_POOL_PROBE_INTERVALL=1s", "unknown variable SHARDGEN_POOL_PROBE_INTERVALL; did you mean SHARDGEN_POOL_PROBE_INTERVAL?"},
		{"SHARDGEN_FOO=1", "unknown variable SHARDGEN_FOO (see"},
	} {
		_, err := ConfigFromEnviron([]string{"DATABASE_URL=postgres://app@wrong/app", c.v})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.v, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "postgres://") {
			t.Errorf("%s: the error shows a value: %v", c.v, err)
		}
	}
	// A URL put in a duration is not echoed.
	_, err := ConfigFromEnviron([]string{"SHARDGEN_POOL_ACQUIRE_TIMEOUT=postgres://app:S3cr3t@db/app"})
	if err == nil || strings.Contains(err.Error(), "S3cr3t") {
		t.Errorf("duration error: %v", err)
	}
	_, err = ParseConfigJSON([]byte(`{"pool": {"acquire_timeout": "postgres://app:S3cr3t@db/app", "query_exec_mode": "S3cr3t"}}`), nil)
	if err == nil || strings.Contains(err.Error(), "S3cr3t") {
		t.Errorf("JSON pool error: %v", err)
	}
}

// ${VAR} in a URL is percent-encoded, so a password with / # ? @ % stays
// the password: the host and database are the ones written, and neither
// Addr nor String shows it. In a DSN a value needing quotes is refused.
func TestConfigFileSafeSubstitution(t *testing.T) {
	for _, pw := range []string{"8842/kX9qLeak", "a#b?c@d%e:f g"} {
		lookup := func(string) (string, bool) { return pw, true }
		cfg, err := ParseConfigJSON([]byte(`{"databases": {"default": "postgres://app:${PW}@db0:5433/app"}}`), lookup)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := parseConn(cfg.Databases["default"])
		if err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		cc := pc.ConnConfig
		if cc.Password != pw || cc.Host != "db0" || cc.Port != 5433 || cc.Database != "app" {
			t.Errorf("%q: password %q host %q port %d database %q", pw, cc.Password, cc.Host, cc.Port, cc.Database)
		}
		r, err := Open(context.Background(), cfg, Spec{Databases: []DatabaseSpec{{Name: "default"}}})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := r.Database("default")
		if s := d.Server().String(); strings.Contains(s, "kX9") || strings.Contains(s, "#b") || s != "default (db0:5433/app)" {
			t.Errorf("%q: Server.String() = %q", pw, s)
		}
		r.Close()
	}
	_, err := ParseConfigJSON([]byte(`{"databases": {"default": "host=db0 user=app password=${PW} dbname=app"}}`),
		func(string) (string, bool) { return "has space's", true })
	if err == nil || !strings.Contains(err.Error(), "space, quote or backslash") || strings.Contains(err.Error(), "space's") {
		t.Errorf("DSN substitution: %v", err)
	}
}

// pool_* parameters of a connection string are kept unless PoolConfig sets
// the field.
func TestPoolParamsFromConnString(t *testing.T) {
	for _, c := range []struct {
		conn     string
		pool     PoolConfig
		max      int32
		lifetime time.Duration
		idle     time.Duration
	}{
		{"postgres://app@db0/app?pool_max_conns=32&pool_max_conn_lifetime=5m", PoolConfig{}, 32, 5 * time.Minute, DefaultMaxConnIdleTime},
		{"host=db0 user=app pool_max_conns=32 pool_max_conn_idle_time='7m'", PoolConfig{}, 32, DefaultMaxConnLifetime, 7 * time.Minute},
		{"postgres://app@db0/app?pool_max_conns=32&pool_max_conn_lifetime=5m", PoolConfig{MaxConns: 4, MaxConnLifetime: time.Minute}, 4, time.Minute, DefaultMaxConnIdleTime},
		{"postgres://app@db0/app", PoolConfig{}, DefaultMaxConns, DefaultMaxConnLifetime, DefaultMaxConnIdleTime},
	} {
		r, err := Open(context.Background(), Config{Databases: map[string]string{"default": c.conn}, Pool: c.pool}, Spec{Databases: []DatabaseSpec{{Name: "default"}}})
		if err != nil {
			t.Fatal(err)
		}
		sp := r.pools[0]
		cfg := sp.pool.Config()
		if cfg.MaxConns != c.max || int32(cap(sp.sem)) != c.max || cfg.MaxConnLifetime != c.lifetime || cfg.MaxConnIdleTime != c.idle {
			t.Errorf("%s with %+v: max %d (sem %d) lifetime %s idle %s; want %d %s %s", c.conn, c.pool, cfg.MaxConns, cap(sp.sem), cfg.MaxConnLifetime, cfg.MaxConnIdleTime, c.max, c.lifetime, c.idle)
		}
		r.Close()
	}
}
