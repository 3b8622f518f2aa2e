package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// FenceSQLState is the SQLSTATE a fenced logical shard raises on every
// write: a move (package runtime/move) has frozen the shard on its old
// server. The fence fires before the statement changes anything, so the
// runtime may safely send the statement again to the shard's new server.
const FenceSQLState = "SGMOV"

// ErrShardMoved reports that a logical shard was moved (or is being moved)
// to another server while an operation that cannot be retried ran on its
// old server: a transaction, or a statement whose retry met the fence
// again. The placement has been reloaded; running the operation again goes
// to the new server.
var ErrShardMoved = errors.New("shard moved to another server")

// ErrTableMoved reports that a write met the fence of a database table that
// package runtime/modelmove is moving, or has moved, to another database:
// the old table is read-only from the fence on. A version of the
// application that still places the model there gets it for every write
// (never a silent write to the old place) until the version placing the
// model on its new database is deployed; its reads keep reading the old
// table as it was at the fence.
var ErrTableMoved = errors.New("table moved to another database")

// Placement says which physical server holds each logical shard of each
// group. The router starts from the static Config; a follower (package
// runtime/placement) applies newer versions read from the placement table
// while the process runs.
type Placement struct {
	// Version increases with every change; the static Config is version 0.
	Version int64
	// Groups maps a group name to the server name of each of its shards
	// (index = logical shard). Groups not listed keep their placement.
	Groups map[string][]string
}

// shardTable is an immutable placement of one group: routing loads it with
// one atomic pointer read and never locks.
type shardTable struct {
	version int64
	byShard []*Server
}

// placementState is the Router's mutable placement bookkeeping.
type placementState struct {
	mu      sync.Mutex // serialises ApplyPlacement
	version atomic.Int64
	reload  atomic.Pointer[PlacementReloader]
	guard   atomic.Pointer[MigrateGuard]
}

// PlacementReloader brings the Router's placement up to date after an
// operation on a shard met a fence (wait true: the move may not have
// switched yet, so wait, within a bound the reloader chooses, until a
// placement newer than seen is applied) or failed in a way a stale
// placement could explain (wait false: reload once, rate-limited). It
// returns when the placement is current or it gave up; its error is only
// informative.
type PlacementReloader func(ctx context.Context, seen int64, wait bool) error

// MigrateGuard is consulted by Migrate before it changes anything: an error
// refuses the run (a move is in progress); release is called when the run
// ends.
type MigrateGuard func(ctx context.Context) (release func(), err error)

// SetPlacementReloader installs the hook the runtime calls when a statement
// meets a fence; nil removes it. Package runtime/placement installs it.
func (r *Router) SetPlacementReloader(fn PlacementReloader) {
	if fn == nil {
		r.place.reload.Store(nil)
		return
	}
	r.place.reload.Store(&fn)
}

// SetMigrateGuard installs the check Migrate runs first; nil removes it.
// Package runtime/placement installs one that refuses migrations while a
// move is in progress.
func (r *Router) SetMigrateGuard(fn MigrateGuard) {
	if fn == nil {
		r.place.guard.Store(nil)
		return
	}
	r.place.guard.Store(&fn)
}

// migrateGuard runs the installed MigrateGuard, if any.
func (r *Router) migrateGuard(ctx context.Context) (func(), error) {
	g := r.place.guard.Load()
	if g == nil {
		return func() {}, nil
	}
	release, err := (*g)(ctx)
	if err != nil {
		return nil, err
	}
	if release == nil {
		release = func() {}
	}
	return release, nil
}

// Placement returns the current placement of every group.
func (r *Router) Placement() Placement {
	p := Placement{Version: r.place.version.Load(), Groups: map[string][]string{}}
	for _, g := range r.groupList {
		t := g.table.Load()
		names := make([]string, len(t.byShard))
		for i, s := range t.byShard {
			names[i] = s.name
		}
		p.Groups[g.name] = names
	}
	return p
}

// PlacementVersion is the version of the placement in use.
func (r *Router) PlacementVersion() int64 { return r.place.version.Load() }

// ApplyPlacement switches the Router to p if p is newer than the placement
// in use (an older or equal version is ignored and returns nil). Every
// server p names must be one of the group's configured servers; a bad p
// changes nothing. Operations already running finish on the server they
// started on.
func (r *Router) ApplyPlacement(p Placement) error {
	r.place.mu.Lock()
	defer r.place.mu.Unlock()
	if p.Version <= r.place.version.Load() {
		return nil
	}
	tables := map[*Group]*shardTable{}
	var errs []string
	for _, name := range sortedKeys(p.Groups) {
		g, ok := r.groups[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("group %q is not in the Spec", name))
			continue
		}
		names := p.Groups[name]
		if len(names) != g.nShards {
			errs = append(errs, fmt.Sprintf("group %q: placement lists %d shards, the group has %d", name, len(names), g.nShards))
			continue
		}
		t := &shardTable{version: p.Version, byShard: make([]*Server, g.nShards)}
		for s, sn := range names {
			srv := g.serverNamed(sn)
			if srv == nil {
				errs = append(errs, fmt.Sprintf("group %q shard %d: server %q is not configured (add it to the config of every process first)", name, s, sn))
				break
			}
			t.byShard[s] = srv
		}
		tables[g] = t
	}
	if len(errs) > 0 {
		return fmt.Errorf("shardgen runtime: placement version %d not applied: %s", p.Version, joinSemi(errs))
	}
	for g, t := range tables {
		for s, srv := range t.byShard {
			if old := g.table.Load().byShard[s]; old.pool != srv.pool {
				// The shard's statement texts now count towards the new
				// server's working set (see Query.text).
				srv.pool.texts.Add(1)
			}
		}
		g.table.Store(t)
	}
	r.place.version.Store(p.Version)
	return nil
}

func joinSemi(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// serverNamed returns the configured server of the group with that name.
func (g *Group) serverNamed(name string) *Server {
	for _, s := range g.servers {
		if s.name == name {
			return s
		}
	}
	return nil
}

// ServerNamed returns the group's configured server of that name, or nil.
func (g *Group) ServerNamed(name string) *Server { return g.serverNamed(name) }

// ShardsOf returns the logical shards the server holds in the current
// placement, ascending.
func (g *Group) ShardsOf(srv *Server) []Shard {
	var out []Shard
	for s, x := range g.table.Load().byShard {
		if x == srv {
			out = append(out, Shard(s))
		}
	}
	return out
}

// shardRangesOf compresses ascending shards into inclusive ranges.
func shardRangesOf(shards []Shard) []ShardRange {
	s := slices.Clone(shards)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var out []ShardRange
	for _, x := range s {
		if n := len(out); n > 0 && out[n-1].Last+1 == x {
			out[n-1].Last = x
			continue
		}
		out = append(out, ShardRange{x, x})
	}
	return out
}

// fenced reports whether err is (or wraps) the fence error of a moved
// shard.
func fenced(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == FenceSQLState
}

// staleSchema reports whether err is what a shard's old server says once
// the move has retired its copy there (its schema renamed away): undefined
// schema, table or function.
func staleSchema(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "3F000", "42P01", "42883":
		return true
	}
	return false
}

// movedError is the cause of a *ShardError for an operation that met a
// fence and was not (or could not be) retried: it matches ErrShardMoved (a
// shard) or ErrTableMoved (a database's table) and the server's
// *pgconn.PgError.
type movedError struct{ kind, cause error }

func (e *movedError) Error() string   { return e.kind.Error() + ": " + e.cause.Error() }
func (e *movedError) Unwrap() []error { return []error{e.kind, e.cause} }

// redirect decides, after err on t, whether the operation should be sent
// again: it reloads the placement (waiting for the switch after a fence)
// and returns the shard's target under the new placement when the shard
// now lives on another server. Otherwise ok is false and the caller
// returns moved(err).
func (t Target) redirect(ctx context.Context, err error) (nt Target, ok bool) {
	if t.group == nil || err == nil {
		return t, false
	}
	fence := fenced(err)
	if !fence && !staleSchema(err) {
		return t, false
	}
	r := t.group.router
	if nt = t.group.At(t.shard); nt.srv != t.srv {
		return nt, true // already switched while the statement ran
	}
	if fn := r.place.reload.Load(); fn != nil {
		_ = (*fn)(ctx, r.place.version.Load(), fence)
	}
	nt = t.group.At(t.shard)
	return nt, nt.srv != t.srv
}

// moved wraps the error of an operation that met a fence and was not
// redirected so that it matches ErrShardMoved; other errors are returned
// unchanged.
func moved(err error) error {
	if !fenced(err) {
		return err
	}
	var se *ShardError
	if errors.As(err, &se) {
		if _, already := se.Err.(*movedError); already {
			return err
		}
		kind := ErrShardMoved
		if se.Group == "" {
			kind = ErrTableMoved
		}
		return &ShardError{Group: se.Group, Shard: se.Shard, Server: se.Server, Err: &movedError{kind: kind, cause: se.Err}}
	}
	return &movedError{kind: ErrShardMoved, cause: err}
}
