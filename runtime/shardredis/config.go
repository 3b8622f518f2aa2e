package shardredis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/internal/confcheck"
)

// Config says where the Redis servers of each shard group and the named
// (non-sharded) Redis connections are. Build it in Go, with ConfigFromEnv,
// or with LoadConfigFile (the "redis" section of the runtime's JSON file);
// Open validates it against the generated runtime.Spec.
type Config struct {
	// Groups maps a shard group of the Spec to its Redis servers. Each owns
	// an inclusive range of the group's logical shards, exactly as the
	// group's database servers do (runtime.ServerConfig, with a redis:// URL);
	// together they must cover every shard exactly once. The ranges need not
	// be the database servers' ranges: a logical shard is the unit either
	// way, so a key or an ID finds its Redis server as it finds its
	// database server.
	Groups map[string][]runtime.ServerConfig
	// Named maps a name ("aggregates") to the redis:// URL of a non-sharded
	// connection, for data that belongs to no shard (Redis in Action's
	// get_expected).
	Named map[string]string
	// DialTimeout bounds connecting to one server; IOTimeout bounds waiting
	// for a reply (a frozen server fails calls within it). Defaults 1s and
	// 2s. Counters and the cache treat a server that fails this way as down.
	DialTimeout time.Duration
	IOTimeout   time.Duration
}

// Defaults of Config.
const (
	DefaultDialTimeout = time.Second
	DefaultIOTimeout   = 2 * time.Second
)

// nameRE is what names of groups, servers and connections must match (as in
// the runtime's Config).
var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func checkName(kind, name string) string {
	switch {
	case name == "":
		return kind + " name is empty"
	case len(name) > 63:
		return kind + " name " + strconv.Quote(name) + " is longer than 63 bytes"
	case !nameRE.MatchString(name):
		return kind + " name " + strconv.Quote(name) + " is not a lower-case identifier (must match ^[a-z_][a-z0-9_]*$)"
	}
	return ""
}

// ConfigError lists every problem found in a Config. Problems are complete
// sentences; they never contain a URL or a password.
type ConfigError struct{ Problems []string }

// Error returns the one problem, or their count and one problem per line.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "shardgen redis config: " + e.Problems[0]
	}
	return fmt.Sprintf("shardgen redis config: %d problems:\n\t%s", len(e.Problems), strings.Join(e.Problems, "\n\t"))
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}

// redisURL is a parsed, validated redis:// URL.
type redisURL struct {
	addr     string // host:port
	db       int
	user     string
	password string
	tls      bool
}

// where is host:port/db, for errors and logs: never a password.
func (u redisURL) where() string { return u.addr + "/" + strconv.Itoa(u.db) }

// parseURL accepts redis://[user[:password]@]host[:port][/db] and rediss://
// (TLS). Its errors never quote the URL.
func parseURL(raw string) (redisURL, error) {
	if strings.TrimSpace(raw) == "" {
		return redisURL{}, fmt.Errorf("URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the URL; say what is wrong without it.
		return redisURL{}, fmt.Errorf("URL is not a valid redis:// URL (a password with / # ? %% or @ must be percent-encoded)")
	}
	var out redisURL
	switch u.Scheme {
	case "redis":
	case "rediss":
		out.tls = true
	default:
		return redisURL{}, fmt.Errorf("URL scheme is %q; want redis:// or rediss://", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return redisURL{}, fmt.Errorf("URL has no host (want redis://host:port/db)")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "6379"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return redisURL{}, fmt.Errorf("URL port is not a number between 1 and 65535")
	}
	out.addr = host + ":" + port
	if strings.Contains(host, ":") {
		out.addr = "[" + host + "]:" + port
	}
	if path := strings.Trim(u.Path, "/"); path != "" {
		n, err := strconv.Atoi(path)
		if err != nil || n < 0 || n > 15 {
			return redisURL{}, fmt.Errorf("URL database %q is not a number between 0 and 15", path)
		}
		out.db = n
	}
	if u.RawQuery != "" {
		return redisURL{}, fmt.Errorf("URL has query parameters; shardredis takes none (timeouts are Config fields)")
	}
	if u.User != nil {
		out.user = u.User.Username()
		out.password, _ = u.User.Password()
	}
	return out, nil
}

// parsedServer is a validated server of a group.
type parsedServer struct {
	name string
	url  redisURL
	raw  string
	rng  runtime.ShardRange
}

// Validate checks the Config against spec and returns a *ConfigError listing
// every problem: unknown or unconfigured groups (with a did-you-mean), bad
// names and URLs, and shard ranges that overlap, leave gaps or exceed the
// group's shard count. A group of the Spec with no Redis servers is fine:
// only groups whose models use Redis need servers, and using one that has
// none is an error when it is asked for (Redis.Group).
func (c Config) Validate(spec runtime.Spec) error {
	var p problems
	c.check(spec, &p)
	return p.err()
}

func (c Config) check(spec runtime.Spec, p *problems) (map[string][]parsedServer, map[string]redisURL) {
	if c.DialTimeout < 0 {
		p.add("DialTimeout is negative (%s)", c.DialTimeout)
	}
	if c.IOTimeout < 0 {
		p.add("IOTimeout is negative (%s)", c.IOTimeout)
	}
	shardsOf := map[string]int{}
	var groupNames []string
	for _, g := range spec.Groups {
		shardsOf[g.Name] = g.Shards
		groupNames = append(groupNames, g.Name)
	}
	groups := map[string][]parsedServer{}
	for _, name := range sortedKeys(c.Groups) {
		n, ok := shardsOf[name]
		if !ok {
			p.add("redis group %q is configured but the Spec does not declare it%s", name, confcheck.Suggest(name, groupNames))
			continue
		}
		groups[name] = checkGroup(name, n, c.Groups[name], p)
	}
	named := map[string]redisURL{}
	for _, name := range sortedKeys(c.Named) {
		if msg := checkName("named connection", name); msg != "" {
			p.add("%s", msg)
			continue
		}
		u, err := parseURL(c.Named[name])
		if err != nil {
			p.add("named connection %q: %v", name, err)
			continue
		}
		named[name] = u
	}
	return groups, named
}

func checkGroup(group string, shards int, servers []runtime.ServerConfig, p *problems) []parsedServer {
	if len(servers) == 0 {
		p.add("redis group %q has no servers", group)
		return nil
	}
	var ok []parsedServer
	var ranges []confcheck.Range
	seen := map[string]bool{}
	for i, s := range servers {
		label := fmt.Sprintf("redis group %q server #%d", group, i+1)
		if s.Name != "" {
			label = fmt.Sprintf("redis group %q server %q", group, s.Name)
		}
		bad := false
		if msg := checkName("server", s.Name); msg != "" {
			p.add("redis group %q server #%d: %s", group, i+1, msg)
			bad = true
		} else if seen[s.Name] {
			p.add("%s is listed twice", label)
			bad = true
		}
		seen[s.Name] = true
		u, err := parseURL(s.URL)
		if err != nil {
			p.add("%s: %v", label, err)
			bad = true
		}
		rng, err := runtime.ParseShardRange(s.Shards)
		if err != nil {
			p.add("%s: %v", label, err)
			continue // no range to check coverage with
		}
		if shards > 0 && int(rng.Last) >= shards {
			p.add("%s: shard range %s exceeds the group's %d shards (0-%d)", label, rng, shards, shards-1)
			continue
		}
		ranges = append(ranges, confcheck.Range{Name: s.Name, First: int(rng.First), Last: int(rng.Last)})
		if !bad {
			ok = append(ok, parsedServer{name: s.Name, url: u, raw: s.URL, rng: rng})
		}
	}
	*p = append(*p, confcheck.Coverage(fmt.Sprintf("redis group %q", group), ranges, shards)...)
	return ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Environment variables read by ConfigFromEnv (names upper-cased in
// variable names, lower-case in values):
//
//	SHARDGEN_CONFIG=/etc/app/shards.json           optional: start from the file's "redis" section
//	SHARDGEN_REDIS_GROUP_<GROUP>_SERVERS=r1,r2     the group's Redis servers, by name
//	SHARDGEN_REDIS_GROUP_<GROUP>_SERVER_<NAME>_URL=redis://...
//	SHARDGEN_REDIS_GROUP_<GROUP>_SERVER_<NAME>_SHARDS=0-2047
//	SHARDGEN_REDIS_NAMED_<NAME>_URL=redis://...    a named non-sharded connection
//	SHARDGEN_REDIS_DIAL_TIMEOUT=1s  SHARDGEN_REDIS_IO_TIMEOUT=2s
//
// Values in the environment override the file's. Any other SHARDGEN_REDIS_
// variable is an error.
const (
	envConfigFile  = "SHARDGEN_CONFIG"
	envPrefix      = "SHARDGEN_REDIS_"
	envGroupPrefix = "SHARDGEN_REDIS_GROUP_"
	envNamedPrefix = "SHARDGEN_REDIS_NAMED_"
)

// ConfigFromEnv builds a Config from the process environment; see the
// variables above. It does not check the Config against a Spec (Open does).
func ConfigFromEnv() (Config, error) { return ConfigFromEnviron(os.Environ()) }

// ConfigFromEnviron is ConfigFromEnv over a list of "KEY=value" strings.
func ConfigFromEnviron(environ []string) (Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var p problems
	var cfg Config
	if path := env[envConfigFile]; path != "" {
		fc, err := LoadConfigFile(path)
		if err != nil {
			return Config{}, err
		}
		cfg = fc
	}
	if cfg.Groups == nil {
		cfg.Groups = map[string][]runtime.ServerConfig{}
	}
	if cfg.Named == nil {
		cfg.Named = map[string]string{}
	}
	used := map[string]bool{}
	keys := sortedKeys(env)
	for _, k := range keys {
		if !strings.HasPrefix(k, envGroupPrefix) {
			continue
		}
		mid, ok := strings.CutSuffix(strings.TrimPrefix(k, envGroupPrefix), "_SERVERS")
		if !ok || mid == "" {
			continue
		}
		used[k] = true
		group := strings.ToLower(mid)
		if msg := checkName("group", group); msg != "" {
			p.add("%s: %s", k, msg)
			continue
		}
		var servers []runtime.ServerConfig
		for _, raw := range strings.Split(env[k], ",") {
			name := strings.TrimSpace(raw)
			if name == "" {
				continue
			}
			if msg := checkName("server", name); msg != "" {
				p.add("%s: %s", k, msg)
				continue
			}
			base := envGroupPrefix + strings.ToUpper(group) + "_SERVER_" + strings.ToUpper(name)
			uk, sk := base+"_URL", base+"_SHARDS"
			used[uk], used[sk] = true, true
			s := runtime.ServerConfig{Name: name}
			var has bool
			if s.URL, has = env[uk]; !has {
				p.add("%s lists server %q but %s is not set", k, name, uk)
			}
			if s.Shards, has = env[sk]; !has {
				p.add("%s lists server %q but %s is not set", k, name, sk)
			}
			servers = append(servers, s)
		}
		if len(servers) == 0 {
			p.add("%s names no servers", k)
		}
		cfg.Groups[group] = servers
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, envNamedPrefix) {
			continue
		}
		mid, ok := strings.CutSuffix(strings.TrimPrefix(k, envNamedPrefix), "_URL")
		if !ok || mid == "" {
			continue
		}
		used[k] = true
		cfg.Named[strings.ToLower(mid)] = env[k]
	}
	for field, dst := range map[string]*time.Duration{"DIAL_TIMEOUT": &cfg.DialTimeout, "IO_TIMEOUT": &cfg.IOTimeout} {
		k := envPrefix + field
		v, ok := env[k]
		if !ok {
			continue
		}
		used[k] = true
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			p.add("%s is not a duration (want e.g. 1s, 250ms)", k)
		}
		*dst = d
	}
	for _, k := range keys {
		if strings.HasPrefix(k, envPrefix) && !used[k] {
			p.add("unknown variable %s (see the shardredis package documentation for the SHARDGEN_REDIS_* scheme)", k)
		}
	}
	sort.Strings(p)
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadConfigFile reads the "redis" section of the runtime's JSON config file
// (runtime.LoadConfigFile ignores it):
//
//	{
//	  "databases": {...}, "groups": {...},
//	  "redis": {
//	    "groups": {"blog": [{"name": "r1", "url": "redis://:${REDIS_PASSWORD}@cache1:6379/0", "shards": "0-4095"},
//	                        {"name": "r2", "url": "redis://cache2:6379/0", "shards": "4096-8191"}]},
//	    "named": {"aggregates": "redis://cache0:6379/0"},
//	    "dial_timeout": "1s", "io_timeout": "2s"
//	  }
//	}
//
// Unknown keys inside "redis" are errors; URLs may reference environment
// variables as ${NAME}, as the runtime's connection strings do. A file with
// no "redis" section gives an empty Config.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("shardgen redis config: %w", err)
	}
	cfg, err := ParseConfigJSON(data, os.LookupEnv)
	if err != nil {
		return Config{}, fmt.Errorf("shardgen redis config file %s: %w", path, err)
	}
	return cfg, nil
}

type fileConfig struct {
	Groups      map[string][]fileServer `json:"groups"`
	Named       map[string]string       `json:"named"`
	DialTimeout string                  `json:"dial_timeout"`
	IOTimeout   string                  `json:"io_timeout"`
}

type fileServer struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Shards string `json:"shards"`
}

// ParseConfigJSON parses a whole config file's JSON and returns its "redis"
// section; lookup resolves ${NAME} in URLs (nil disables expansion).
func ParseConfigJSON(data []byte, lookup func(string) (string, bool)) (Config, error) {
	var top struct {
		Redis json.RawMessage `json:"redis"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return Config{}, fmt.Errorf("invalid JSON config: %v", err)
	}
	cfg := Config{Groups: map[string][]runtime.ServerConfig{}, Named: map[string]string{}}
	if len(top.Redis) == 0 {
		return cfg, nil
	}
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(top.Redis))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return Config{}, fmt.Errorf("invalid \"redis\" section: %v", err)
	}
	var p problems
	exp := func(s, where string) string {
		if lookup == nil {
			return s
		}
		out, probs := confcheck.Expand(s, lookup, where)
		p = append(p, probs...)
		return out
	}
	for _, g := range sortedKeys(fc.Groups) {
		for i, s := range fc.Groups[g] {
			cfg.Groups[g] = append(cfg.Groups[g], runtime.ServerConfig{
				Name: s.Name, URL: exp(s.URL, fmt.Sprintf("redis.groups.%s[%d].url", g, i)), Shards: s.Shards,
			})
		}
	}
	for _, n := range sortedKeys(fc.Named) {
		cfg.Named[n] = exp(fc.Named[n], "redis.named."+n)
	}
	for _, d := range []struct {
		key string
		v   string
		dst *time.Duration
	}{{"dial_timeout", fc.DialTimeout, &cfg.DialTimeout}, {"io_timeout", fc.IOTimeout, &cfg.IOTimeout}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			p.add("redis.%s is not a duration (want e.g. 1s, 250ms)", d.key)
		}
		*d.dst = v
	}
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
