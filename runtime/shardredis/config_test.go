package shardredis

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/runtime"
)

var testSpec = runtime.Spec{
	Databases: []runtime.DatabaseSpec{{Name: "default"}},
	Groups:    []runtime.GroupSpec{{Name: "blog", Shards: 16}, {Name: "users", Shards: 8}},
}

func validConfig() Config {
	return Config{
		Groups: map[string][]runtime.ServerConfig{"blog": {
			{Name: "r1", URL: "redis://cache1:6379/0", Shards: "0-7"},
			{Name: "r2", URL: "redis://:pw@cache2/1", Shards: "8-15"},
		}},
		Named: map[string]string{"aggregates": "redis://cache0:6380"},
	}
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want *ConfigError", err, err)
	}
	return ce.Problems
}

func TestConfigValid(t *testing.T) {
	if err := validConfig().Validate(testSpec); err != nil {
		t.Fatal(err)
	}
}

func TestConfigProblems(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"unknown group", func(c *Config) { c.Groups["blgo"] = c.Groups["blog"] },
			[]string{`redis group "blgo" is configured but the Spec does not declare it; did you mean "blog"?`}},
		{"no servers", func(c *Config) { c.Groups["users"] = nil }, []string{`redis group "users" has no servers`}},
		{"gap", func(c *Config) { c.Groups["blog"][1].Shards = "9-15" },
			[]string{`redis group "blog": shards 8 are not mapped to any server`}},
		{"overlap", func(c *Config) { c.Groups["blog"][1].Shards = "6-15" },
			[]string{`redis group "blog": servers "r1" and "r2" both claim shards 6-7`}},
		{"beyond", func(c *Config) { c.Groups["blog"][1].Shards = "8-16" },
			[]string{`redis group "blog" server "r2": shard range 8-16 exceeds the group's 16 shards (0-15)`,
				`redis group "blog": shards 8-15 are not mapped to any server`}},
		{"bad range", func(c *Config) { c.Groups["blog"][1].Shards = "8..15" },
			[]string{`redis group "blog" server "r2": shard range "8..15" is not of the form first-last or n (want e.g. "0-2047" or "7")`,
				`redis group "blog": shards 8-15 are not mapped to any server`}},
		{"bad name", func(c *Config) { c.Groups["blog"][0].Name = "R1" },
			[]string{`redis group "blog" server #1: server name "R1" is not a lower-case identifier (must match ^[a-z_][a-z0-9_]*$)`}},
		{"twice", func(c *Config) { c.Groups["blog"][1].Name = "r1" },
			[]string{`redis group "blog" server "r1" is listed twice`}},
		{"scheme", func(c *Config) { c.Groups["blog"][0].URL = "postgres://app:pw@db/app" },
			[]string{`redis group "blog" server "r1": URL scheme is "postgres"; want redis:// or rediss://`}},
		{"empty url", func(c *Config) { c.Named["aggregates"] = "" },
			[]string{`named connection "aggregates": URL is empty`}},
		{"bad db", func(c *Config) { c.Named["aggregates"] = "redis://h/99" },
			[]string{`named connection "aggregates": URL database "99" is not a number between 0 and 15`}},
		{"negative", func(c *Config) { c.IOTimeout = -1 }, []string{`IOTimeout is negative (-1ns)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.edit(&cfg)
			got := problemsOf(t, cfg.Validate(testSpec))
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestConfigAllProblemsAtOnce(t *testing.T) {
	cfg := validConfig()
	cfg.Groups["blog"][0].URL = "mysql://x"
	cfg.Groups["blog"][1].Shards = "9-15"
	cfg.Named["Bad"] = "redis://h"
	got := problemsOf(t, cfg.Validate(testSpec))
	if len(got) != 3 {
		t.Fatalf("want 3 problems at once (the gap despite the bad URL), got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
}

func TestConfigErrorsNeverContainPassword(t *testing.T) {
	const secret = "S3cr3tPw"
	for _, u := range []string{
		"redis://:" + secret + "@h:notaport/0",
		"redis://u:" + secret + "@h/abc",
		"redis://:" + secret + "/x@h/0",
		"redis://:" + secret + "%zz@h/0",
		"redis://:" + secret + "@h/0?dial_timeout=1s",
		"http://:" + secret + "@h/0",
		"redis//:" + secret + "@h/0",
	} {
		cfg := validConfig()
		cfg.Groups["blog"][0].URL = u
		cfg.Named["aggregates"] = u
		err := cfg.Validate(testSpec)
		if err == nil {
			t.Errorf("%q accepted", u)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error contains the password: %v", err)
		}
	}
	// Open succeeds on a valid URL and Addr/String never show the password.
	r, err := Open(validConfig(), testSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g, _ := r.Group("blog")
	for _, s := range g.Servers() {
		if strings.Contains(s.String(), "pw") {
			t.Errorf("server string shows the password: %s", s)
		}
	}
	if got := g.ServerOf(8).String(); got != "r2 (cache2:6379/1)" {
		t.Errorf("ServerOf(8) = %s", got)
	}
}

func TestConfigFromEnviron(t *testing.T) {
	env := []string{
		"SHARDGEN_REDIS_GROUP_BLOG_SERVERS=r1, r2",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVER_R1_URL=redis://cache1:6379/0",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVER_R1_SHARDS=0-7",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVER_R2_URL=redis://:pw@cache2/1",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVER_R2_SHARDS=8-15",
		"SHARDGEN_REDIS_NAMED_AGGREGATES_URL=redis://cache0:6380",
		"SHARDGEN_REDIS_IO_TIMEOUT=250ms",
		"SHARDGEN_DATABASE_DEFAULT_URL=postgres://x@y/z", // the runtime's, not ours
	}
	cfg, err := ConfigFromEnviron(env)
	if err != nil {
		t.Fatal(err)
	}
	want := validConfig()
	want.IOTimeout = 250e6
	if err := cfg.Validate(testSpec); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Groups["blog"]) != 2 || cfg.Groups["blog"][1] != want.Groups["blog"][1] || cfg.Named["aggregates"] != want.Named["aggregates"] || cfg.IOTimeout != want.IOTimeout {
		t.Fatalf("got %+v, want %+v", cfg, want)
	}

	_, err = ConfigFromEnviron([]string{
		"SHARDGEN_REDIS_GROUP_BLOG_SERVERS=r1",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVER_R1_URL=redis://:hunter2@h",
		"SHARDGEN_REDIS_IO_TIMEOUT=redis://:hunter2@h",
		"SHARDGEN_REDIS_GROUP_BLOG_SERVER_R1_SHARD=0-15",
	})
	got := problemsOf(t, err)
	want2 := []string{
		`SHARDGEN_REDIS_GROUP_BLOG_SERVERS lists server "r1" but SHARDGEN_REDIS_GROUP_BLOG_SERVER_R1_SHARDS is not set`,
		`SHARDGEN_REDIS_IO_TIMEOUT is not a duration (want e.g. 1s, 250ms)`,
		`unknown variable SHARDGEN_REDIS_GROUP_BLOG_SERVER_R1_SHARD (see the shardredis package documentation for the SHARDGEN_REDIS_* scheme)`,
	}
	if strings.Join(got, "\n") != strings.Join(want2, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want2, "\n"))
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shards.json")
	data := `{
	  "databases": {"default": "postgres://app@db0/app"},
	  "groups": {"blog": [{"name": "a", "url": "postgres://app@db1/app", "shards": "0-15"}]},
	  "redis": {
	    "groups": {"blog": [{"name": "r1", "url": "redis://cache1:6379/0", "shards": "0-7"},
	                        {"name": "r2", "url": "redis://:${TEST_REDIS_PW}@cache2/1", "shards": "8-15"}]},
	    "named": {"aggregates": "redis://cache0:6380"},
	    "io_timeout": "250ms"
	  }
	}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_REDIS_PW", "pw")
	cfg, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Groups["blog"][1].URL != "redis://:pw@cache2/1" || cfg.IOTimeout != 250e6 {
		t.Fatalf("got %+v", cfg)
	}
	// The runtime reads the same file and ignores the "redis" section.
	if _, err := runtime.LoadConfigFile(path); err != nil {
		t.Fatalf("runtime rejects the file with a redis section: %v", err)
	}
	// Through SHARDGEN_CONFIG, with an environment override.
	cfg, err = ConfigFromEnviron([]string{"SHARDGEN_CONFIG=" + path, "SHARDGEN_REDIS_IO_TIMEOUT=1s"})
	if err != nil || cfg.IOTimeout != 1e9 || len(cfg.Groups["blog"]) != 2 {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	// Unknown keys and unset variables are errors naming the key.
	for _, c := range []struct{ json, want string }{
		{`{"redis": {"group": {}}}`, `unknown field "group"`},
		{`{"redis": {"named": {"x": "redis://:${NOPE_UNSET}@h"}}}`, `redis.named.x: environment variable NOPE_UNSET is not set`},
		{`{"redis": {"dial_timeout": "soon"}}`, `redis.dial_timeout is not a duration`},
	} {
		_, err := ParseConfigJSON([]byte(c.json), os.LookupEnv)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.json, err, c.want)
		}
	}
}
