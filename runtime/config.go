package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shardgen/shardgen/runtime/internal/confcheck"
)

// Config says where every database and every logical shard lives. Build it
// in Go, with ConfigFromEnv, or with LoadConfigFile; Open validates it
// against the generated Spec.
type Config struct {
	// Databases maps a database name ("default", "analytics") to its
	// connection string: a postgres:// URL or a keyword=value DSN.
	Databases map[string]string
	// Groups maps a shard group name to its physical servers. Each server
	// owns an inclusive range of the group's logical shards; together they
	// must cover every shard exactly once.
	Groups map[string][]ServerConfig
	// Pool bounds the connection pool of every physical server.
	Pool PoolConfig
	// ConfigurePool, when set, is called once for each physical server's
	// pool (each distinct connection string) with the pgxpool.Config the
	// runtime built, before the pool is created: the place for pgx's own
	// hooks, for all servers or, by PoolInfo, for some. Set
	// ConnConfig.Tracer (a pgx.QueryTracer such as otelpgx or tracelog;
	// TargetFromContext tells it the group, shard and server of each
	// query), AfterConnect or PrepareConn (register enum or pgvector types),
	// BeforeClose, or anything else pgx offers. MaxConns and ShouldPing are
	// the runtime's (they keep acquisition bounded) and are reset after
	// the call; an error fails Open.
	ConfigurePool func(PoolInfo, *pgxpool.Config) error `json:"-"`
}

// PoolInfo says which configured servers share a pool (a connection
// string): the databases and the group servers using it.
type PoolInfo struct {
	Addr      string        // host:port/database, never a password
	Databases []string      // names of databases on this pool
	Servers   []GroupServer // group servers on this pool
}

// GroupServer names one physical server of a shard group.
type GroupServer struct{ Group, Server string }

// ServerConfig is one physical server of a shard group.
type ServerConfig struct {
	// Name identifies the server in errors and metrics ("a", "pg_eu_1");
	// a lower-case identifier, unique within the group.
	Name string
	// URL is the connection string (postgres:// URL or keyword=value DSN).
	// Servers, of any group or database, with identical URLs share one pool.
	URL string
	// Shards is the inclusive range of logical shards on this server,
	// "0-2047", or a single shard "7". Empty means none yet: a server added
	// as the target of a move (package runtime/move), which then follows
	// the placement table.
	Shards string
}

// PoolConfig bounds each physical server's pool. A zero field takes the
// value a connection string sets with pgxpool's own parameters
// (pool_max_conns, pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time, connect_timeout), else the default documented on
// the field; a non-zero field overrides the connection string. pgxpool
// parameters PoolConfig has no field for (pool_health_check_period,
// pool_max_conn_lifetime_jitter, ...) are always the connection string's.
type PoolConfig struct {
	// MaxConns is the most connections open to one physical server, shared by
	// all logical shards (and databases) on it. Default 8.
	MaxConns int32
	// MinConns connections are kept open to each server. Default 0: Open
	// never waits for (or fails on) a server that is down.
	MinConns int32
	// AcquireTimeout bounds how long an operation waits for a connection
	// (hypervault's "block timeout"): for a free pool slot, and for dialling a
	// new connection. Exhaustion fails with ErrPoolTimeout and an unreachable
	// server with ErrUnavailable, both within this time. Default 5s.
	AcquireTimeout time.Duration
	// ConnectTimeout bounds dialling and authenticating one connection.
	// Default (and maximum): AcquireTimeout.
	ConnectTimeout time.Duration
	// ProbeInterval is how long a server stays known down after a
	// connection to it failed: calls fail at once with ErrUnavailable (or
	// ErrMisconfigured) without dialling, then one call probes. Default
	// 100ms. See the package documentation, "Faults".
	ProbeInterval time.Duration
	// MaxConnLifetime and MaxConnIdleTime recycle connections. Defaults 1h
	// and 30m.
	MaxConnLifetime time.Duration
	MaxConnIdleTime time.Duration
	// QueryExecMode is how statements are sent. The zero value is "auto",
	// described in the package documentation under "Exec mode": pgx's
	// statement cache while a server's distinct statement texts fit in it,
	// QueryExecModeExec beyond.
	QueryExecMode pgx.QueryExecMode
}

// Defaults of PoolConfig.
const (
	DefaultMaxConns        = 8
	DefaultAcquireTimeout  = 5 * time.Second
	DefaultMaxConnLifetime = time.Hour
	DefaultMaxConnIdleTime = 30 * time.Minute
	DefaultProbeInterval   = 100 * time.Millisecond
)

func (p PoolConfig) withDefaults() PoolConfig {
	if p.MaxConns == 0 {
		p.MaxConns = DefaultMaxConns
	}
	if p.AcquireTimeout == 0 {
		p.AcquireTimeout = DefaultAcquireTimeout
	}
	if p.ConnectTimeout == 0 || p.ConnectTimeout > p.AcquireTimeout {
		p.ConnectTimeout = p.AcquireTimeout
	}
	if p.MaxConnLifetime == 0 {
		p.MaxConnLifetime = DefaultMaxConnLifetime
	}
	if p.MaxConnIdleTime == 0 {
		p.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if p.ProbeInterval == 0 {
		p.ProbeInterval = DefaultProbeInterval
	}
	return p
}

// forConn merges p (as given, before defaults) with the pool parameters a
// connection string set (keys, see connKeys) and applies the defaults.
func (p PoolConfig) forConn(cfg *pgxpool.Config, keys map[string]bool) PoolConfig {
	if p.MaxConns == 0 && keys["pool_max_conns"] {
		p.MaxConns = cfg.MaxConns
	}
	if p.MinConns == 0 && keys["pool_min_conns"] {
		p.MinConns = cfg.MinConns
	}
	if p.MaxConnLifetime == 0 && keys["pool_max_conn_lifetime"] {
		p.MaxConnLifetime = cfg.MaxConnLifetime
	}
	if p.MaxConnIdleTime == 0 && keys["pool_max_conn_idle_time"] {
		p.MaxConnIdleTime = cfg.MaxConnIdleTime
	}
	if p.ConnectTimeout == 0 && keys["connect_timeout"] {
		p.ConnectTimeout = cfg.ConnConfig.ConnectTimeout
	}
	return p.withDefaults()
}

// connKeys returns the parameter names a connection string sets (URL query
// parameters, or the keywords of a keyword=value DSN). Values are skipped,
// never kept.
func connKeys(conn string) map[string]bool {
	keys := map[string]bool{}
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err == nil {
			for k := range u.Query() {
				keys[k] = true
			}
		}
		return keys
	}
	s := conn
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return keys
		}
		i := strings.IndexAny(s, "= \t\n\r")
		if i < 0 {
			return keys
		}
		keys[s[:i]] = true
		s = strings.TrimLeft(s[i:], " \t\n\r")
		s = strings.TrimPrefix(s, "=")
		s = strings.TrimLeft(s, " \t\n\r")
		if strings.HasPrefix(s, "'") {
			// Quoted value: up to the next unescaped quote.
			j := 1
			for ; j < len(s) && s[j] != '\''; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			s = s[min(j+1, len(s)):]
			continue
		}
		j := strings.IndexAny(s, " \t\n\r")
		if j < 0 {
			return keys
		}
		s = s[j:]
	}
}

func (p PoolConfig) validate(ps *problems) {
	if p.MaxConns < 0 {
		ps.add("pool: MaxConns is %d; want at least 1 (or 0 for the default %d)", p.MaxConns, DefaultMaxConns)
	}
	if p.MinConns < 0 {
		ps.add("pool: MinConns is %d; want 0 or more", p.MinConns)
	}
	max := p.MaxConns
	if max == 0 {
		max = DefaultMaxConns
	}
	if max > 0 && p.MinConns > max {
		ps.add("pool: MinConns %d exceeds MaxConns %d", p.MinConns, max)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"AcquireTimeout", p.AcquireTimeout}, {"ConnectTimeout", p.ConnectTimeout}, {"MaxConnLifetime", p.MaxConnLifetime}, {"MaxConnIdleTime", p.MaxConnIdleTime}, {"ProbeInterval", p.ProbeInterval}} {
		if d.v < 0 {
			ps.add("pool: %s is negative (%s)", d.name, d.v)
		}
	}
	switch p.QueryExecMode {
	case 0, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
	default:
		ps.add("pool: unknown QueryExecMode %d", p.QueryExecMode)
	}
}

// parseQueryExecMode parses "auto" (the zero value) and the names pgx uses
// in its default_query_exec_mode connection parameter: cache_statement,
// cache_describe, describe_exec, exec, simple_protocol.
func parseQueryExecMode(s string) (pgx.QueryExecMode, error) {
	switch s {
	case "auto", "":
		return 0, nil
	case "cache_statement":
		return pgx.QueryExecModeCacheStatement, nil
	case "cache_describe":
		return pgx.QueryExecModeCacheDescribe, nil
	case "describe_exec":
		return pgx.QueryExecModeDescribeExec, nil
	case "exec":
		return pgx.QueryExecModeExec, nil
	case "simple_protocol":
		return pgx.QueryExecModeSimpleProtocol, nil
	}
	// The value is not shown: it could be a secret put in the wrong place.
	return 0, fmt.Errorf("unknown query exec mode (want auto, cache_statement, cache_describe, describe_exec, exec or simple_protocol)")
}

// ShardRange is an inclusive range of logical shards.
type ShardRange struct{ First, Last Shard }

// String formats the range as Config spells it ("0-2047", or "7").
func (r ShardRange) String() string { return confcheck.FormatRange(int(r.First), int(r.Last)) }

// ParseShardRange parses "first-last" (inclusive) or a single "n". Its
// errors show the value only when it is made of digits, dots, dashes and
// spaces (a mistyped range, never a misplaced connection string).
func ParseShardRange(s string) (ShardRange, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return ShardRange{}, fmt.Errorf("empty shard range (want e.g. \"0-2047\" or \"7\")")
	}
	bad := func() (ShardRange, error) {
		return ShardRange{}, fmt.Errorf("shard range %s is not of the form first-last or n (want e.g. \"0-2047\" or \"7\")", showRange(s))
	}
	lo, hi, found := strings.Cut(t, "-")
	a, ok := parseShardNum(lo)
	if !ok {
		return bad()
	}
	b := a
	if found {
		if b, ok = parseShardNum(hi); !ok {
			return bad()
		}
	}
	if a > 1<<30 || b > 1<<30 {
		return ShardRange{}, fmt.Errorf("shard range %s is out of range", showRange(s))
	}
	if b < a {
		return ShardRange{}, fmt.Errorf("shard range %s ends before it starts", showRange(s))
	}
	return ShardRange{Shard(a), Shard(b)}, nil
}

func parseShardNum(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 10 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// showRange quotes a would-be shard range for an error if it holds only
// digits, '.', '-' and spaces (at most 32 bytes); anything else might be a
// secret put in the wrong place and is not shown.
func showRange(s string) string {
	if len(s) > 32 {
		return "(value not shown)"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == ' ') {
			return "(value not shown)"
		}
	}
	return strconv.Quote(s)
}

// parsedServer is a validated ServerConfig.
type parsedServer struct {
	name  string
	url   string
	rng   ShardRange
	where string // host:port/database, never a password
}

// parseConn parses a connection string with pgxpool (URL or keyword=value
// DSN). The error never contains the string or a part of it: pgx's own
// messages quote it (redacting passwords only on a best-effort basis), so
// only the kind of problem is kept.
func parseConn(conn string) (*pgxpool.Config, error) {
	if strings.TrimSpace(conn) == "" {
		return nil, fmt.Errorf("connection string is empty")
	}
	isURL := strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://")
	pc, err := pgxpool.ParseConfig(conn)
	if err != nil {
		return nil, connProblem(err, isURL)
	}
	if cc := pc.ConnConfig; isURL && misparsedURL(cc.Host, cc.Database) {
		// postgres://app:84/x@db/app parses as host app, port 84,
		// database "x@db/app": an unescaped '/' in the password.
		return nil, fmt.Errorf("connection URL parses with '@' or '/' in its host or database name: a password or user name containing / # ? @ : or %% must be percent-encoded (%%2F %%23 %%3F %%40 %%3A %%25)")
	}
	return pc, nil
}

// misparsedURL tells whether a URL's host or database name holds what
// only an unescaped userinfo character puts there. A host that starts with
// '/' is a Unix-domain socket directory (host=/run/postgresql), which pgx
// accepts, so only there a '/' is expected.
func misparsedURL(host, database string) bool {
	if strings.ContainsAny(database, "@/") || strings.Contains(host, "@") {
		return true
	}
	return strings.Contains(host, "/") && !strings.HasPrefix(host, "/")
}

// connProblem describes a pgx parse error without any part of the
// connection string.
func connProblem(err error, isURL bool) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// A TLS file (sslrootcert, sslcert, sslkey) that cannot be read;
		// its path is not a secret.
		return fmt.Errorf("connection string names a file that cannot be read: %v", pe)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var ee url.EscapeError
		if errors.As(err, &ee) {
			return fmt.Errorf("connection URL has an invalid %%-escape (write a literal %% as %%25)")
		}
		return fmt.Errorf("connection string is not a valid postgres:// URL (a password or user name containing / # ? @ : or %% must be percent-encoded: %%2F %%23 %%3F %%40 %%3A %%25)")
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		c := *pce
		c.ConnString = ""
		msg := strings.TrimPrefix(c.Error(), "cannot parse ``: ")
		if inner := errors.Unwrap(pce); inner != nil {
			msg = strings.TrimSuffix(msg, " ("+inner.Error()+")")
		}
		if msg == "failed to parse as keyword/value" {
			msg = "not a valid keyword=value DSN (quote values containing spaces as key='va lue', escaping ' and \\ with \\)"
		}
		form := "keyword=value DSN"
		if isURL {
			form = "postgres:// URL"
			if msg == "invalid port" {
				msg += " (a password or user name containing / # ? @ : or % must be percent-encoded: %2F %23 %3F %40 %3A %25)"
			}
		}
		return fmt.Errorf("connection string (a %s): %s", form, msg)
	}
	return fmt.Errorf("connection string is neither a valid postgres:// URL nor a valid keyword=value DSN")
}

// describeConn is host:port/database of a parsed connection, for errors.
func describeConn(pc *pgxpool.Config) string {
	cc := pc.ConnConfig
	return cc.Host + ":" + strconv.Itoa(int(cc.Port)) + "/" + cc.Database
}

// Validate checks the Config against spec (which it also validates) and
// returns a *ConfigError listing every problem: missing or unparsable URLs,
// unsafe names, databases or groups the Spec does not know, and shard ranges
// that overlap, leave gaps or exceed the group's shard count.
func (c Config) Validate(spec Spec) error {
	var p problems
	c.check(spec, &p)
	return p.err()
}

// check validates and returns the parsed servers of each group.
func (c Config) check(spec Spec, p *problems) map[string][]parsedServer {
	spec.validate(p)
	c.Pool.validate(p)

	known := map[string]bool{}
	for _, d := range spec.Databases {
		known[d.Name] = true
		url, ok := c.Databases[d.Name]
		if !ok {
			p.add("database %q has no connection string (set Config.Databases[%q], or %s)", d.Name, d.Name, envDatabaseVar(d.Name))
			continue
		}
		if _, err := parseConn(url); err != nil {
			p.add("database %q: %v", d.Name, err)
		}
	}
	for _, name := range sortedKeys(c.Databases) {
		if !known[name] {
			p.add("database %q is configured but the Spec does not declare it%s", name, suggest(name, specDBNames(spec)))
		}
	}

	out := map[string][]parsedServer{}
	knownG := map[string]bool{}
	for _, g := range spec.Groups {
		knownG[g.Name] = true
		servers, ok := c.Groups[g.Name]
		if !ok || len(servers) == 0 {
			p.add("group %q has no servers (set Config.Groups[%q], or %s)", g.Name, g.Name, envGroupServersVar(g.Name))
			continue
		}
		out[g.Name] = checkGroup(g, servers, p)
	}
	for _, name := range sortedKeys(c.Groups) {
		if !knownG[name] {
			p.add("group %q is configured but the Spec does not declare it%s", name, suggest(name, specGroupNames(spec)))
		}
	}
	return out
}

func checkGroup(g GroupSpec, servers []ServerConfig, p *problems) (out []parsedServer) {
	var ok, ranged []parsedServer
	seen := map[string]bool{}
	for i, s := range servers {
		label := fmt.Sprintf("group %q server #%d", g.Name, i+1)
		if s.Name != "" {
			label = fmt.Sprintf("group %q server %q", g.Name, s.Name)
		}
		bad := false // any problem: the server is not returned
		rangeOK := true
		if msg := checkIdent("server", s.Name, maxIdent); msg != "" {
			p.add("group %q server #%d: %s", g.Name, i+1, msg)
			bad = true
		} else if seen[s.Name] {
			p.add("%s is listed twice", label)
			bad = true
		}
		seen[s.Name] = true
		pc, err := parseConn(s.URL)
		if err != nil {
			p.add("%s: %v", label, err)
			bad = true
		}
		rng, err := ParseShardRange(s.Shards)
		if strings.TrimSpace(s.Shards) == "" {
			rng, err = ShardRange{First: 0, Last: -1}, nil // holds no shard
		}
		if err != nil {
			p.add("%s: %v", label, err)
			bad, rangeOK = true, false
		} else if g.Shards > 0 && int(rng.Last) >= g.Shards {
			p.add("%s: shard range %s exceeds the group's %d shards (0-%d)", label, rng, g.Shards, g.Shards-1)
			bad = true
		}
		ps := parsedServer{name: s.Name, url: s.URL, rng: rng}
		if rangeOK {
			ranged = append(ranged, ps)
		}
		if !bad {
			ps.where = describeConn(pc)
			ok = append(ok, ps)
		}
	}
	if len(ranged) != len(servers) || g.Shards <= 0 {
		// Coverage is only meaningful once every range parsed; a bad
		// connection string or name does not hide a gap or an overlap.
		return nil
	}
	defer func() {
		if len(ok) != len(servers) {
			out = nil
		}
	}()
	ranges := make([]confcheck.Range, 0, len(ranged))
	for _, s := range ranged {
		if s.rng.Last < s.rng.First {
			continue // holds no shard (a move's target)
		}
		ranges = append(ranges, confcheck.Range{Name: s.name, First: int(s.rng.First), Last: int(s.rng.Last)})
	}
	*p = append(*p, confcheck.Coverage(fmt.Sprintf("group %q", g.Name), ranges, g.Shards)...)
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

func specDBNames(s Spec) []string {
	var n []string
	for _, d := range s.Databases {
		n = append(n, d.Name)
	}
	return n
}

func specGroupNames(s Spec) []string {
	var n []string
	for _, g := range s.Groups {
		n = append(n, g.Name)
	}
	return n
}

// suggest is the did-you-mean tail of an error about an unknown name
// (confcheck.Suggest, shared with runtime/shardredis).
func suggest(name string, known []string) string { return confcheck.Suggest(name, known) }
