package runtime

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Router maps databases and logical shards to physical servers and their
// connection pools. It is safe for concurrent use; build one per process
// with Open and Close it on shutdown.
type Router struct {
	spec      Spec
	pools     []*serverPool
	databases map[string]*Database
	dbList    []*Database // Spec order
	groups    map[string]*Group
	groupList []*Group // Spec order
	place     placementState

	closeOnce sync.Once
}

// Database is a named database ("default" or a partition) on one server.
type Database struct {
	router *Router
	name   string
	server *Server
	target Target
}

// Group is a shard group: a fixed number of logical shards, each a schema
// on one of the group's physical servers.
type Group struct {
	router  *Router
	name    string
	nShards int
	schemas []string  // unquoted schema name per shard
	quoted  []string  // quoted schema name per shard (what SchemaToken becomes)
	servers []*Server // distinct servers in config order
	// seqBits and shardMask decode the shard of an ID: the Spec's layout.
	seqBits   int
	shardMask int64
	// table is the current placement: the owning server per shard. It is
	// immutable and swapped whole (see ApplyPlacement), so routing is one
	// atomic load and an index.
	table atomic.Pointer[shardTable]
}

// Server is one physical server as named in the config. Servers of any
// group or database whose connection strings are identical share one pool.
type Server struct {
	name  string
	where string // host:port/database — never a password
	pool  *serverPool
}

// Open builds a Router from cfg after checking it against spec. It creates
// one bounded pool per distinct connection string but does not connect: a
// server that is down only fails operations on its own shards, when they
// run. All configuration problems are returned at once as a *ConfigError.
func Open(ctx context.Context, cfg Config, spec Spec) (*Router, error) {
	var p problems
	parsed := cfg.check(spec, &p)
	if err := p.err(); err != nil {
		return nil, err
	}
	r := &Router{
		spec:      spec,
		databases: map[string]*Database{},
		groups:    map[string]*Group{},
	}
	// Who uses each connection string, for ConfigurePool.
	infos := map[string]*PoolInfo{}
	info := func(url string) *PoolInfo {
		if infos[url] == nil {
			infos[url] = &PoolInfo{}
		}
		return infos[url]
	}
	for _, ds := range spec.Databases {
		pi := info(cfg.Databases[ds.Name])
		pi.Databases = append(pi.Databases, ds.Name)
	}
	for _, gs := range spec.Groups {
		for _, ps := range parsed[gs.Name] {
			pi := info(ps.url)
			pi.Servers = append(pi.Servers, GroupServer{Group: gs.Name, Server: ps.name})
		}
	}
	byURL := map[string]*serverPool{}
	poolFor := func(url string) (*serverPool, error) {
		if sp, ok := byURL[url]; ok {
			return sp, nil
		}
		var configure func(*pgxpool.Config) error
		if cfg.ConfigurePool != nil {
			configure = func(pc *pgxpool.Config) error {
				pi := *infos[url]
				pi.Addr = describeConn(pc)
				return cfg.ConfigurePool(pi, pc)
			}
		}
		sp, err := newServerPool(ctx, url, cfg.Pool, configure)
		if err != nil {
			return nil, err
		}
		sp.info = *infos[url]
		sp.info.Addr = sp.where
		byURL[url] = sp
		r.pools = append(r.pools, sp)
		return sp, nil
	}
	fail := func(err error) (*Router, error) {
		r.Close()
		return nil, err
	}
	for _, ds := range spec.Databases {
		sp, err := poolFor(cfg.Databases[ds.Name])
		if err != nil {
			return fail(fmt.Errorf("database %q: %w", ds.Name, err))
		}
		d := &Database{router: r, name: ds.Name}
		d.server = &Server{name: ds.Name, where: sp.where, pool: sp}
		d.target = Target{srv: d.server, db: d, shard: -1, schema: `"public"`}
		r.databases[ds.Name] = d
		r.dbList = append(r.dbList, d)
	}
	idLayout := spec.IDLayout()
	for _, gs := range spec.Groups {
		g := &Group{
			router:    r,
			name:      gs.Name,
			nShards:   gs.Shards,
			schemas:   make([]string, gs.Shards),
			quoted:    make([]string, gs.Shards),
			seqBits:   idLayout.SeqBits,
			shardMask: 1<<idLayout.ShardBits - 1,
		}
		byShard := make([]*Server, gs.Shards)
		for i := range gs.Shards {
			g.schemas[i] = SchemaName(gs.Name, Shard(i))
			g.quoted[i] = QuoteIdent(g.schemas[i])
		}
		for _, ps := range parsed[gs.Name] {
			sp, err := poolFor(ps.url)
			if err != nil {
				return fail(fmt.Errorf("group %q server %q: %w", gs.Name, ps.name, err))
			}
			s := &Server{name: ps.name, where: ps.where, pool: sp}
			g.servers = append(g.servers, s)
			for sh := ps.rng.First; sh <= ps.rng.Last; sh++ {
				byShard[sh] = s
			}
		}
		g.table.Store(&shardTable{byShard: byShard})
		r.groups[gs.Name] = g
		r.groupList = append(r.groupList, g)
	}
	return r, nil
}

// Close closes every pool. Operations in flight fail; later ones fail too.
func (r *Router) Close() {
	r.closeOnce.Do(func() {
		for _, sp := range r.pools {
			sp.pool.Close()
		}
	})
}

// Spec returns the Spec the Router was opened with.
func (r *Router) Spec() Spec { return r.spec }

// Database returns the named database, or an error naming the databases the
// Spec declares.
func (r *Router) Database(name string) (*Database, error) {
	if d, ok := r.databases[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("shardgen runtime: no database %q%s", name, suggest(name, specDBNames(r.spec)))
}

// Group returns the named shard group, or an error naming the groups the
// Spec declares.
func (r *Router) Group(name string) (*Group, error) {
	if g, ok := r.groups[name]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("shardgen runtime: no shard group %q%s", name, suggest(name, specGroupNames(r.spec)))
}

// Databases returns the databases in Spec order.
func (r *Router) Databases() []*Database { return append([]*Database(nil), r.dbList...) }

// Groups returns the shard groups in Spec order.
func (r *Router) Groups() []*Group { return append([]*Group(nil), r.groupList...) }

// Name returns the database name.
func (d *Database) Name() string { return d.name }

// Server returns the database's server.
func (d *Database) Server() *Server { return d.server }

// Target returns the executor for the database; SchemaToken becomes
// "public".
func (d *Database) Target() Target { return d.target }

// Name returns the group name.
func (g *Group) Name() string { return g.name }

// Shards returns the number of logical shards.
func (g *Group) Shards() int { return g.nShards }

// ShardOfInt64 returns the logical shard of an integer shard key (int32 and
// int16 keys are converted to int64 first). See hash.go for the function.
func (g *Group) ShardOfInt64(key int64) Shard { return reduce(hashInt64(key), g.nShards) }

// ShardOfString returns the logical shard of a string shard key.
func (g *Group) ShardOfString(key string) Shard { return reduce(hashString(key), g.nShards) }

// ShardOfID returns the logical shard embedded in an ID minted with the
// Spec's ID layout (Spec.IDLayout). An ID that cannot have been minted in this group (not
// positive, or naming a shard beyond the group's count) returns an error
// that matches ErrNotFound, since no row can have it.
func (g *Group) ShardOfID(id int64) (Shard, error) {
	s := Shard((id >> g.seqBits) & g.shardMask)
	if id <= 0 || int(s) >= g.nShards {
		return 0, fmt.Errorf("%w: ID %d cannot belong to group %s of %d shards (it names shard %d)", ErrNotFound, id, g.name, g.nShards, s)
	}
	return s, nil
}

// Schema returns the (unquoted) schema name of a logical shard, "blog_0007".
func (g *Group) Schema(s Shard) string {
	if s < 0 || int(s) >= g.nShards {
		return ""
	}
	return g.schemas[s]
}

// ServerOf returns the physical server that owns a logical shard, or nil
// when the shard is out of range.
func (g *Group) ServerOf(s Shard) *Server {
	if s < 0 || int(s) >= g.nShards {
		return nil
	}
	return g.table.Load().byShard[s]
}

// Servers returns the group's physical servers in config order.
func (g *Group) Servers() []*Server { return append([]*Server(nil), g.servers...) }

// ShardsOn returns the range of logical shards a server of this group owns
// in the current placement (from its first shard to its last; see ShardsOf
// for the exact list once moves made it non-contiguous). A server that
// holds no shard gives an empty range, which prints as "none".
func (g *Group) ShardsOn(s *Server) ShardRange {
	shards := g.ShardsOf(s)
	if len(shards) == 0 {
		return ShardRange{First: 0, Last: -1}
	}
	return ShardRange{First: shards[0], Last: shards[len(shards)-1]}
}

// At returns the executor for one logical shard. An out-of-range shard gives
// a Target whose operations fail with ErrWrongShard.
func (g *Group) At(s Shard) Target {
	if s < 0 || int(s) >= g.nShards {
		return Target{group: g, shard: s}
	}
	return Target{srv: g.table.Load().byShard[s], group: g, shard: s, schema: g.quoted[s]}
}

// Name returns the server's name from the config (the database name for a
// database's server).
func (s *Server) Name() string { return s.name }

// Addr returns host:port/database, for logs; it never contains a password.
func (s *Server) Addr() string { return s.where }

// Stat returns the statistics of the server's pool (shared with any server
// that has the same connection string).
func (s *Server) Stat() *pgxpool.Stat { return s.pool.pool.Stat() }

// String is "name (host:port/database)".
func (s *Server) String() string { return s.name + " (" + s.where + ")" }
