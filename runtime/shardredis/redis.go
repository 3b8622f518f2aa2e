package shardredis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/internal/confcheck"
)

// ErrUnavailable matches every error of a call that could not reach its
// Redis server (down, frozen beyond IOTimeout, refusing connections). The
// cache treats it as a miss and reads the database; counters return it.
var ErrUnavailable = errors.New("redis server unavailable")

// Redis maps the logical shards of each configured group to Redis servers
// and holds the named non-sharded connections. Safe for concurrent use;
// build one per process with Open and Close it on shutdown.
type Redis struct {
	groups  map[string]*Group
	named   map[string]*Server
	servers []*Server // distinct by URL
	spec    runtime.Spec
}

// Group is the Redis side of a shard group: each logical shard's server.
type Group struct {
	name    string
	nShards int
	byShard []*Server
	servers []*Server // config order
}

// Server is one Redis server (one URL). Servers of several groups, or a
// named connection, with identical URLs share one client.
type Server struct {
	name  string
	where string // host:port/db, never a password
	rng   runtime.ShardRange
	conn  *conn
}

// conn is the client of one distinct URL, created on first use: rueidis
// connects when a client is made, and a server that is down must not fail
// Open (its keys fail, or fall back, when used). After a failed connect,
// calls fail fast with ErrUnavailable for retryAfter instead of dialling
// again on every call.
type conn struct {
	opt   rueidis.ClientOption
	where string

	ready atomic.Pointer[rueidis.Client] // set once connected: the lock-free fast path

	mu      sync.Mutex
	client  rueidis.Client
	failed  time.Time
	lastErr string
	closed  bool
}

// retryAfter is how long a server that refused a connection is reported
// down before the next dial.
const retryAfter = 200 * time.Millisecond

// Open builds the Redis routing from cfg after checking it against spec
// (the generated runtime.Spec). It does not connect. All configuration
// problems are returned at once as a *ConfigError.
func Open(cfg Config, spec runtime.Spec) (*Redis, error) {
	var p problems
	groups, named := cfg.check(spec, &p)
	if err := p.err(); err != nil {
		return nil, err
	}
	dial, io := cfg.DialTimeout, cfg.IOTimeout
	if dial == 0 {
		dial = DefaultDialTimeout
	}
	if io == 0 {
		io = DefaultIOTimeout
	}
	r := &Redis{groups: map[string]*Group{}, named: map[string]*Server{}, spec: spec}
	byURL := map[string]*conn{}
	connFor := func(raw string, u redisURL) *conn {
		if c, ok := byURL[raw]; ok {
			return c
		}
		opt := rueidis.ClientOption{
			InitAddress:       []string{u.addr},
			Username:          u.user,
			Password:          u.password,
			SelectDB:          u.db,
			Dialer:            net.Dialer{Timeout: dial, KeepAlive: time.Second},
			ConnWriteTimeout:  io,
			DisableCache:      true, // client-side caching would serve values our invalidation cannot reach
			DisableRetry:      true, // a down server must fail fast so the cache falls back to the database
			ForceSingleClient: true,
		}
		if u.tls {
			host, _, _ := net.SplitHostPort(u.addr)
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		c := &conn{opt: opt, where: u.where()}
		byURL[raw] = c
		return c
	}
	for _, gs := range spec.Groups {
		ps, ok := groups[gs.Name]
		if !ok {
			continue
		}
		g := &Group{name: gs.Name, nShards: gs.Shards, byShard: make([]*Server, gs.Shards)}
		for _, s := range ps {
			srv := &Server{name: s.name, where: s.url.where(), rng: s.rng, conn: connFor(s.raw, s.url)}
			g.servers = append(g.servers, srv)
			for sh := s.rng.First; sh <= s.rng.Last; sh++ {
				g.byShard[sh] = srv
			}
		}
		r.groups[gs.Name] = g
	}
	for _, name := range sortedKeys(named) {
		u := named[name]
		r.named[name] = &Server{name: name, where: u.where(), conn: connFor(cfg.Named[name], u)}
	}
	seen := map[*conn]bool{}
	for _, g := range r.groups {
		for _, s := range g.servers {
			if !seen[s.conn] {
				seen[s.conn] = true
				r.servers = append(r.servers, s)
			}
		}
	}
	for _, s := range r.named {
		if !seen[s.conn] {
			seen[s.conn] = true
			r.servers = append(r.servers, s)
		}
	}
	return r, nil
}

// Close closes every client.
func (r *Redis) Close() {
	for _, s := range r.servers {
		s.conn.close()
	}
}

// Group returns the Redis side of a shard group, or an error when the
// group has no Redis servers configured (or is unknown, with a
// did-you-mean).
func (r *Redis) Group(name string) (*Group, error) {
	if g, ok := r.groups[name]; ok {
		return g, nil
	}
	var known []string
	for _, g := range r.spec.Groups {
		if g.Name == name {
			return nil, fmt.Errorf("shardgen redis: group %q has no Redis servers configured (set Config.Groups[%q], or %s%s_SERVERS)", name, name, envGroupPrefix, strings.ToUpper(name))
		}
		known = append(known, g.Name)
	}
	return nil, fmt.Errorf("shardgen redis: no shard group %q%s", name, confcheck.Suggest(name, known))
}

// Named returns a named non-sharded connection.
func (r *Redis) Named(name string) (*Server, error) {
	if s, ok := r.named[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("shardgen redis: no named connection %q%s", name, confcheck.Suggest(name, sortedKeys(r.named)))
}

// Name returns the group name.
func (g *Group) Name() string { return g.name }

// Shards returns the group's number of logical shards.
func (g *Group) Shards() int { return g.nShards }

// ServerOf returns the Redis server that owns a logical shard, or nil when
// the shard is out of range. The shard comes from the runtime
// (runtime.Group.ShardOfInt64, ShardOfString, ShardOfID), so a key reaches
// the Redis server of its logical shard exactly as it reaches its database.
func (g *Group) ServerOf(s runtime.Shard) *Server {
	if s < 0 || int(s) >= g.nShards {
		return nil
	}
	return g.byShard[s]
}

// Servers returns the group's Redis servers in config order.
func (g *Group) Servers() []*Server { return append([]*Server(nil), g.servers...) }

// Key returns the Redis key of a logical shard's data: "sg:<group>:<shard>:"
// followed by the parts joined with ':'. Every key shardredis writes for a
// shard starts with this prefix, so a shard's Redis data can be found
// (SCAN MATCH) and moved with the shard.
func (g *Group) Key(s runtime.Shard, parts ...string) string {
	k := "sg:" + g.name + ":" + strconv.Itoa(int(s)) + ":"
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// Name returns the server's name from the config.
func (s *Server) Name() string { return s.name }

// Addr returns host:port/db, for logs; never a password.
func (s *Server) Addr() string { return s.where }

// ShardRange returns the logical shards the server owns in its group (zero
// for a named connection).
func (s *Server) ShardRange() runtime.ShardRange { return s.rng }

// String is "name (host:port/db)".
func (s *Server) String() string { return s.name + " (" + s.where + ")" }

// Client returns the server's rueidis client, connecting on first use. An
// error matches ErrUnavailable and never contains a password.
func (s *Server) Client() (rueidis.Client, error) { return s.conn.get() }

func (c *conn) get() (rueidis.Client, error) {
	if cl := c.ready.Load(); cl != nil {
		return *cl, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	if c.closed {
		return nil, fmt.Errorf("%w: %s: client closed", ErrUnavailable, c.where)
	}
	if !c.failed.IsZero() && time.Since(c.failed) < retryAfter {
		return nil, fmt.Errorf("%w: %s: %s (retrying in at most %s)", ErrUnavailable, c.where, c.lastErr, retryAfter)
	}
	cl, err := rueidis.NewClient(c.opt)
	if err != nil {
		c.failed = time.Now()
		c.lastErr = scrub(err.Error(), c.opt.Password)
		return nil, fmt.Errorf("%w: %s: %s", ErrUnavailable, c.where, c.lastErr)
	}
	c.client, c.failed = cl, time.Time{}
	c.ready.Store(&cl)
	return cl, nil
}

func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.ready.Store(nil)
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}

// wrap makes a transport error, and the replies of a server that is not
// serving yet (LOADING), match ErrUnavailable; other Redis error replies (a
// script error, WRONGTYPE) stay as they are.
func wrap(s *Server, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		// A server still loading its data set (after a restart) or
		// otherwise not serving yet ran nothing: that is unavailability.
		if msg := re.Error(); strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN") {
			return fmt.Errorf("%w: %s: %s", ErrUnavailable, s.where, msg)
		}
		return fmt.Errorf("redis %s: %w", s.where, err)
	}
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, s.where, scrub(err.Error(), s.conn.opt.Password))
}

func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "xxxxx")
}
