package runtime

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shardgen/shardgen/internal/editdist"
)

// Environment variables read by ConfigFromEnv; the variables and their
// meaning are listed once, in the package documentation ("Configuration
// from the environment or a file").
const (
	envPrefix         = "SHARDGEN_"
	envConfigFile     = "SHARDGEN_CONFIG"
	envDatabasePrefix = "SHARDGEN_DATABASE_"
	envGroupPrefix    = "SHARDGEN_GROUP_"
	envPoolPrefix     = "SHARDGEN_POOL_"
	envDatabaseURL    = "DATABASE_URL"
	// envTestDatabaseURL is pgtest's (runtime/pgtest.EnvDatabaseURL); it
	// is not the runtime's but is allowed beside its variables.
	envTestDatabaseURL = "SHARDGEN_TEST_DATABASE_URL"
	// envRedisPrefix is runtime/shardredis's, which checks its variables.
	envRedisPrefix = "SHARDGEN_REDIS_"
)

// suggestEnv returns "; did you mean X?" for an unknown SHARDGEN_
// variable: the nearest fixed name, or the name with its misspelt
// DATABASE, GROUP, POOL or CONFIG word (and pool field) corrected.
func suggestEnv(k string, durations map[string]*time.Duration, ints map[string]*int32) string {
	var fixed []string
	fixed = append(fixed, envConfigFile, envPoolPrefix+"QUERY_EXEC_MODE")
	for f := range durations {
		fixed = append(fixed, envPoolPrefix+f)
	}
	for f := range ints {
		fixed = append(fixed, envPoolPrefix+f)
	}
	sort.Strings(fixed)
	if best := editdist.Closest(k, fixed); best != "" {
		return "; did you mean " + best + "?"
	}
	rest := strings.TrimPrefix(k, envPrefix)
	word, tail, _ := strings.Cut(rest, "_")
	for _, w := range []string{"DATABASE", "GROUP"} {
		if word != w && editdist.Closest(word, []string{w}) != "" && tail != "" {
			return "; did you mean " + envPrefix + w + "_" + tail + "?"
		}
	}
	if word == "DATABASE" && !strings.HasSuffix(tail, "_URL") {
		return "; did you mean " + envPrefix + "DATABASE_" + strings.TrimSuffix(tail, "_") + "_URL?"
	}
	return ""
}

func envDatabaseVar(db string) string { return envDatabasePrefix + strings.ToUpper(db) + "_URL" }
func envGroupServersVar(g string) string {
	return envGroupPrefix + strings.ToUpper(g) + "_SERVERS"
}
func envServerVar(g, s, what string) string {
	return envGroupPrefix + strings.ToUpper(g) + "_SERVER_" + strings.ToUpper(s) + "_" + what
}

// ConfigFromEnv builds a Config from the process environment, by the
// SHARDGEN_* variables of the package documentation ("Configuration from
// the environment or a file"). It does not check the Config against a Spec
// (Open does).
func ConfigFromEnv() (Config, error) {
	return ConfigFromEnviron(os.Environ())
}

// ConfigFromEnviron is ConfigFromEnv over an explicit environment, a list of
// "KEY=value" strings as returned by os.Environ.
func ConfigFromEnviron(environ []string) (Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var p problems
	cfg := Config{Databases: map[string]string{}, Groups: map[string][]ServerConfig{}}
	if path := env[envConfigFile]; path != "" {
		fc, err := LoadConfigFile(path)
		if err != nil {
			return Config{}, err
		}
		cfg = fc
		if cfg.Databases == nil {
			cfg.Databases = map[string]string{}
		}
		if cfg.Groups == nil {
			cfg.Groups = map[string][]ServerConfig{}
		}
	}

	used := map[string]bool{envConfigFile: true}
	keys := sortedKeys(env)

	// Databases.
	for _, k := range keys {
		if !strings.HasPrefix(k, envDatabasePrefix) {
			continue
		}
		mid, ok := strings.CutSuffix(strings.TrimPrefix(k, envDatabasePrefix), "_URL")
		if !ok || mid == "" {
			continue // reported as unknown below
		}
		name := strings.ToLower(mid)
		if msg := checkIdent("database", name, maxIdent); msg != "" {
			p.add("%s: %s", k, msg)
		}
		cfg.Databases[name] = env[k]
		used[k] = true
	}
	if _, ok := env[envDatabaseVar("default")]; !ok {
		if u, ok := env[envDatabaseURL]; ok && u != "" {
			cfg.Databases["default"] = u
		}
	}

	// Groups: the _SERVERS list names the servers, whose variables are then
	// looked up by constructed name, so names containing "_" are unambiguous.
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
		if msg := checkIdent("group", group, maxIdent); msg != "" {
			p.add("%s: %s", k, msg)
			continue
		}
		var servers []ServerConfig
		for _, raw := range strings.Split(env[k], ",") {
			name := strings.TrimSpace(raw)
			if name == "" {
				continue
			}
			if msg := checkIdent("server", name, maxIdent); msg != "" {
				p.add("%s: %s", k, msg)
				continue
			}
			s := ServerConfig{Name: name}
			uk, sk := envServerVar(group, name, "URL"), envServerVar(group, name, "SHARDS")
			used[uk], used[sk] = true, true
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

	// Pool.
	durations := map[string]*time.Duration{
		"ACQUIRE_TIMEOUT":    &cfg.Pool.AcquireTimeout,
		"CONNECT_TIMEOUT":    &cfg.Pool.ConnectTimeout,
		"MAX_CONN_LIFETIME":  &cfg.Pool.MaxConnLifetime,
		"MAX_CONN_IDLE_TIME": &cfg.Pool.MaxConnIdleTime,
		"PROBE_INTERVAL":     &cfg.Pool.ProbeInterval,
	}
	ints := map[string]*int32{"MAX_CONNS": &cfg.Pool.MaxConns, "MIN_CONNS": &cfg.Pool.MinConns}
	for _, k := range keys {
		if !strings.HasPrefix(k, envPoolPrefix) {
			continue
		}
		field := strings.TrimPrefix(k, envPoolPrefix)
		v := strings.TrimSpace(env[k])
		if d, ok := durations[field]; ok {
			used[k] = true
			if *d, ok = parseDuration(v); !ok {
				p.add("%s is not a Go duration (want e.g. 5s, 250ms; the value is not shown)", k)
			}
		} else if n, ok := ints[field]; ok {
			used[k] = true
			i, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				p.add("%s is not an integer (the value is not shown)", k)
			}
			*n = int32(i)
		} else if field == "QUERY_EXEC_MODE" {
			used[k] = true
			m, err := parseQueryExecMode(v)
			if err != nil {
				p.add("%s: %v", k, err)
			}
			cfg.Pool.QueryExecMode = m
		}
	}

	var unknown []string
	for _, k := range keys {
		if !used[k] && strings.HasPrefix(k, envPrefix) && k != envTestDatabaseURL && !strings.HasPrefix(k, envRedisPrefix) {
			unknown = append(unknown, k)
		}
	}
	for _, k := range unknown {
		p.add("unknown variable %s%s (see the runtime package documentation for the SHARDGEN_* variables)", k, suggestEnv(k, durations, ints))
	}
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseDuration accepts Go durations ("5s", "1m30s").
func parseDuration(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	return d, err == nil
}
