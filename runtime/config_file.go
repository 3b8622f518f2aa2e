package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
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
			m, err := ParseQueryExecMode(fp.QueryExecMode)
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

// ExpandVars replaces ${NAME} references in a configuration value as
// LoadConfigFile does for connection strings. The error names the missing
// variables and where (the config key given), never the value.
func ExpandVars(s string, lookup func(string) (string, bool), where string) (string, error) {
	var p problems
	out := expand(s, lookup, &p, where)
	return out, p.err()
}

// expand replaces ${NAME} with lookup(NAME). Only the ${...} form is
// recognised, so a '$' inside a password needs no escaping. In a
// postgres:// URL the value is percent-encoded (every byte but letters,
// digits and -._~), so a password with / # ? @ : or % lands in the password
// and nowhere else. In a keyword=value DSN a value with a space, quote or
// backslash is refused: it would need quoting there.
func expand(s string, lookup func(string) (string, bool), p *problems, where string) string {
	if lookup == nil {
		return s
	}
	isURL := strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+2 : i+2+j]
		v, ok := lookup(name)
		if !ok {
			p.add("%s: environment variable %s is not set", where, name)
		}
		b.WriteString(s[:i])
		switch {
		case isURL:
			b.WriteString(escapeURLValue(v))
		case strings.ContainsAny(v, " \t\n\r'\\"):
			p.add("%s: the value of %s has a space, quote or backslash, which a keyword=value connection string would need quoted; use a postgres:// URL (values substituted there are percent-encoded)", where, name)
		default:
			b.WriteString(v)
		}
		s = s[i+2+j+1:]
	}
}

// escapeURLValue percent-encodes every byte of v but the unreserved ones.
func escapeURLValue(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
