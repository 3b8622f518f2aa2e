package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/shardgen/shardgen/runtime/internal/confcheck"
)

// LoadConfigFile reads a JSON config file:
//
//	{
//	  "databases": {"default": "postgres://app@db0/app", "analytics": "host=db9 dbname=analytics"},
//	  "groups": {
//	    "blog": [
//	      {"name": "a", "url": "postgres://app@db1/app", "shards": "0-2047"},
//	      {"name": "b", "url": "postgres://app@db2/app", "shards": "2048-4095"}
//	    ]
//	  },
//	  "pool": {"max_conns": 8, "min_conns": 0, "acquire_timeout": "5s", "connect_timeout": "5s",
//	           "max_conn_lifetime": "1h", "max_conn_idle_time": "30m", "probe_interval": "100ms",
//	           "query_exec_mode": "auto"}
//	}
//
// A "redis" key holds the configuration of runtime/shardredis, which
// reads it from the same file; the runtime ignores it. Other unknown keys
// are errors. Connection strings may reference environment
// variables as ${NAME} (e.g. "postgres://app:${DB_PASSWORD}@db1/app") so
// that passwords need not be written into the file; an unset variable is an
// error. Errors name the file and the key, never a connection string.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("shardgen runtime config: %w", err)
	}
	cfg, err := ParseConfigJSON(data, os.LookupEnv)
	if err != nil {
		return Config{}, fmt.Errorf("shardgen runtime config file %s: %w", path, err)
	}
	return cfg, nil
}

type fileConfig struct {
	Databases map[string]string       `json:"databases"`
	Groups    map[string][]fileServer `json:"groups"`
	Pool      *filePool               `json:"pool"`
	// Redis is the section of runtime/shardredis (which parses it
	// strictly); the runtime itself does not read it.
	Redis json.RawMessage `json:"redis"`
}

type fileServer struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Shards string `json:"shards"`
}

type filePool struct {
	MaxConns        int32  `json:"max_conns"`
	MinConns        int32  `json:"min_conns"`
	AcquireTimeout  string `json:"acquire_timeout"`
	ConnectTimeout  string `json:"connect_timeout"`
	MaxConnLifetime string `json:"max_conn_lifetime"`
	MaxConnIdleTime string `json:"max_conn_idle_time"`
	ProbeInterval   string `json:"probe_interval"`
	QueryExecMode   string `json:"query_exec_mode"`
}

// ParseConfigJSON parses the JSON form of LoadConfigFile. lookup resolves
// ${NAME} references in connection strings (os.LookupEnv in
// LoadConfigFile); nil disables expansion.
func ParseConfigJSON(data []byte, lookup func(string) (string, bool)) (Config, error) {
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		// json errors quote at most a type or field name, never a value.
		return Config{}, fmt.Errorf("invalid JSON config: %v", err)
	}
	var p problems
	cfg := Config{Databases: map[string]string{}, Groups: map[string][]ServerConfig{}}
	for _, name := range sortedKeys(fc.Databases) {
		cfg.Databases[name] = expand(fc.Databases[name], lookup, &p, fmt.Sprintf("databases.%s", name))
	}
	for _, g := range sortedKeys(fc.Groups) {
		for i, s := range fc.Groups[g] {
			where := fmt.Sprintf("groups.%s[%d]", g, i)
			cfg.Groups[g] = append(cfg.Groups[g], ServerConfig{
				Name:   s.Name,
				URL:    expand(s.URL, lookup, &p, where+".url"),
				Shards: s.Shards,
			})
		}
	}
	if fp := fc.Pool; fp != nil {
		cfg.Pool.MaxConns, cfg.Pool.MinConns = fp.MaxConns, fp.MinConns
		for _, d := range []struct {
			key string
			v   string
			dst *int64
		}{
			{"acquire_timeout", fp.AcquireTimeout, (*int64)(&cfg.Pool.AcquireTimeout)},
			{"connect_timeout", fp.ConnectTimeout, (*int64)(&cfg.Pool.ConnectTimeout)},
			{"max_conn_lifetime", fp.MaxConnLifetime, (*int64)(&cfg.Pool.MaxConnLifetime)},
			{"max_conn_idle_time", fp.MaxConnIdleTime, (*int64)(&cfg.Pool.MaxConnIdleTime)},
			{"probe_interval", fp.ProbeInterval, (*int64)(&cfg.Pool.ProbeInterval)},
		} {
			if d.v == "" {
				continue
			}
			v, ok := parseDuration(d.v)
			if !ok {
				p.add("pool.%s is not a Go duration (want e.g. 5s, 250ms; the value is not shown)", d.key)
			}
			*d.dst = int64(v)
		}
		if fp.QueryExecMode != "" {
			m, err := parseQueryExecMode(fp.QueryExecMode)
			if err != nil {
				p.add("pool.query_exec_mode: %v", err)
			}
			cfg.Pool.QueryExecMode = m
		}
	}
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// expand replaces ${NAME} references in a configuration value; see
// confcheck.Expand. Its problems join p.
func expand(s string, lookup func(string) (string, bool), p *problems, where string) string {
	out, probs := confcheck.Expand(s, lookup, where)
	*p = append(*p, probs...)
	return out
}
