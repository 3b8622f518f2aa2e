// Package placement keeps the placement of logical shards (which physical
// server holds each shard of each group) as versioned data on a control
// database, and makes every runtime process follow it without a restart:
// Follow polls the version, listens for NOTIFY as a fast path and reloads
// at once when a statement meets a move's fence. The static Config is the
// starting placement: the first process (or mover) seeds the table from it.
//
// The tables live in schema "public" of the control database, normally the
// "default" database of the Spec:
//
//	shardgen_placement          (grp, shard) -> server
//	shardgen_placement_version  one row: the version, bumped by every change
//	shardgen_moves              one row per move (package runtime/move)
package placement

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shardgen/shardgen/runtime"
)

// Channel is the NOTIFY channel a placement change is announced on.
const Channel = "shardgen_placement"

// LockKey is the session advisory lock (on the control database) that a
// mover holds exclusively for its whole run and Migrate, through the guard
// Follow installs, holds shared: a migration and a move never run at once.
// The high word spells "sgmv".
const LockKey int64 = 0x73676d76_00000001

// installLockKey serialises Install's CREATE TABLE IF NOT EXISTS, which can
// fail on the catalog's unique indexes when run concurrently.
const installLockKey int64 = 0x73676d76_00000002

// ActivePhases are the move phases before the switch: while a move is in
// one of them, its shards are being copied or are fenced, and migrations
// are refused.
var ActivePhases = []string{"preflight", "schemas", "copy", "catchup", "fence", "verify", "ids"}

// ErrMoveInProgress is returned by Migrate (through the guard Follow
// installs) while a move has not switched yet, and by a mover that finds a
// migration running.
var ErrMoveInProgress = errors.New("a shard move is in progress")

const ddl = `
CREATE TABLE IF NOT EXISTS public.shardgen_placement (
	grp text NOT NULL,
	shard integer NOT NULL,
	server text NOT NULL,
	PRIMARY KEY (grp, shard)
);
CREATE TABLE IF NOT EXISTS public.shardgen_placement_version (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	version bigint NOT NULL
);
INSERT INTO public.shardgen_placement_version (one, version) VALUES (true, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS public.shardgen_moves (
	id bigserial PRIMARY KEY,
	grp text NOT NULL,
	first_shard integer NOT NULL,
	last_shard integer NOT NULL,
	source text NOT NULL,
	target text NOT NULL,
	phase text NOT NULL,
	state jsonb NOT NULL DEFAULT '{}',
	error text NOT NULL DEFAULT '',
	started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);`

// Store is the placement tables on the control database.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the control database (a postgres:// URL or DSN). It
// does not create the tables; Install does.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("placement: control database: connection string is neither a valid postgres:// URL nor a valid keyword=value DSN")
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("placement: control database %s: %w", where(cfg), errors.New("cannot create pool"))
	}
	return &Store{pool: pool}, nil
}

func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Pool is the Store's connection pool (the mover uses it for its records).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Install creates the tables if they are missing. Safe to run from every
// process at once.
func (s *Store) Install(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_advisory_xact_lock($1)", installLockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
}

// Seed writes the router's current placement of every group that has no
// rows yet (normally: the static Config, the starting placement). Groups
// already in the table are left alone; it is safe to run from every
// process at once.
func (s *Store) Seed(ctx context.Context, r *runtime.Router) error {
	cur := r.Placement()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_advisory_xact_lock($1)", installLockKey); err != nil {
			return err
		}
		for _, g := range r.Groups() {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM public.shardgen_placement WHERE grp = $1", g.Name()).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			names := cur.Groups[g.Name()]
			shards := make([]int32, len(names))
			for i := range names {
				shards[i] = int32(i)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO public.shardgen_placement (grp, shard, server) SELECT $1, s, n FROM unnest($2::integer[], $3::text[]) AS u(s, n)", g.Name(), shards, names); err != nil {
				return err
			}
		}
		return nil
	})
}

// Version returns the placement's version.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, "SELECT version FROM public.shardgen_placement_version").Scan(&v)
	return v, err
}

// Load reads the whole placement in one consistent snapshot.
func (s *Store) Load(ctx context.Context) (runtime.Placement, error) {
	p := runtime.Placement{Groups: map[string][]string{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT version FROM public.shardgen_placement_version").Scan(&p.Version); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT grp, shard, server FROM public.shardgen_placement ORDER BY grp, shard")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g, srv string
			var sh int
			if err := rows.Scan(&g, &sh, &srv); err != nil {
				return err
			}
			if sh != len(p.Groups[g]) {
				return fmt.Errorf("placement: group %q has no row for shard %d", g, len(p.Groups[g]))
			}
			p.Groups[g] = append(p.Groups[g], srv)
		}
		return rows.Err()
	})
	return p, err
}

// Switch moves shards of group from one server to another in one
// transaction with extra (the mover records its phase in it), bumps the
// version and announces it. It fails, changing nothing, unless every shard
// is on from.
func Switch(ctx context.Context, tx pgx.Tx, group string, shards runtime.ShardRange, from, to string) (int64, error) {
	tag, err := tx.Exec(ctx, "UPDATE public.shardgen_placement SET server = $4 WHERE grp = $1 AND shard BETWEEN $2 AND $3 AND server = $5",
		group, int(shards.First), int(shards.Last), to, from)
	if err != nil {
		return 0, err
	}
	if want := int64(shards.Last - shards.First + 1); tag.RowsAffected() != want {
		return 0, fmt.Errorf("placement: %d of %d shards of group %s %s are on server %q; not switching", tag.RowsAffected(), want, group, shards, from)
	}
	var v int64
	if err := tx.QueryRow(ctx, "UPDATE public.shardgen_placement_version SET version = version + 1 RETURNING version").Scan(&v); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_notify($1, $2)", Channel, fmt.Sprint(v)); err != nil {
		return 0, err
	}
	return v, nil
}

// ActiveMove describes a move that has not switched yet.
type ActiveMove struct {
	ID             int64
	Group          string
	First, Last    int
	Source, Target string
	Phase          string
}

// String describes the move and its phase, for errors and logs.
func (m ActiveMove) String() string {
	return fmt.Sprintf("move %d of group %s shards %s (%s -> %s) is in phase %s", m.ID, m.Group,
		runtime.ShardRange{First: runtime.Shard(m.First), Last: runtime.Shard(m.Last)}, m.Source, m.Target, m.Phase)
}

// Active lists the moves that have not switched yet.
func (s *Store) Active(ctx context.Context) ([]ActiveMove, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, grp, first_shard, last_shard, source, target, phase FROM public.shardgen_moves WHERE phase = ANY($1) ORDER BY id", ActivePhases)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ActiveMove, error) {
		var m ActiveMove
		err := row.Scan(&m.ID, &m.Group, &m.First, &m.Last, &m.Source, &m.Target, &m.Phase)
		return m, err
	})
}

// Guard is the MigrateGuard Follow installs: it takes LockKey shared for
// the migration's run (failing when a mover holds it) and refuses while
// any move has not switched.
func (s *Store) Guard(ctx context.Context) (release func(), err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("placement: checking for moves before migrating: %w", err)
	}
	var ok bool
	if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_lock_shared($1)", LockKey).Scan(&ok); err != nil {
		c.Release()
		return nil, fmt.Errorf("placement: checking for moves before migrating: %w", err)
	}
	if !ok {
		c.Release()
		return nil, fmt.Errorf("shardgen migrate refused: %w (a mover is running); run the migration after the move switched, or abort it", ErrMoveInProgress)
	}
	unlock := func() {
		_, err := c.Exec(context.WithoutCancel(ctx), "SELECT pg_catalog.pg_advisory_unlock_shared($1)", LockKey)
		if err != nil {
			c.Conn().Close(context.Background()) // drops the lock with the session
		}
		c.Release()
	}
	active, err := s.activeOn(ctx, c.Conn())
	if err != nil {
		unlock()
		return nil, fmt.Errorf("placement: checking for moves before migrating: %w", err)
	}
	if len(active) > 0 {
		unlock()
		var b strings.Builder
		for i, m := range active {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(m.String())
		}
		return nil, fmt.Errorf("shardgen migrate refused: %w: %s; run the migration after it switched, or abort it (shardgen move -abort)", ErrMoveInProgress, b.String())
	}
	return unlock, nil
}

func (s *Store) activeOn(ctx context.Context, c *pgx.Conn) ([]ActiveMove, error) {
	var exists bool
	if err := c.QueryRow(ctx, "SELECT pg_catalog.to_regclass('public.shardgen_moves') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := c.Query(ctx, "SELECT id, grp, first_shard, last_shard, source, target, phase FROM public.shardgen_moves WHERE phase = ANY($1) ORDER BY id", ActivePhases)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ActiveMove, error) {
		var m ActiveMove
		err := row.Scan(&m.ID, &m.Group, &m.First, &m.Last, &m.Source, &m.Target, &m.Phase)
		return m, err
	})
}
