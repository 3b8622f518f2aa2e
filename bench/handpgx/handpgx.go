// Package handpgx is the hand-written baseline of the benchmarks
// (BENCHMARKS.md): the data layer an expert writes directly on pgx/v5 for
// the workload's items table, sharded over logical-shard schemas spread
// over physical servers exactly as shardgen lays them out. It is the floor
// the generated repositories are measured against: statement texts
// schema-qualified and rendered once per shard at start-up, a slice lookup
// from key to shard to pool, one round trip per operation, no wrapping of
// pgx's results or errors beyond what a caller needs.
//
// It shares only the placement with shardgen (runtime.ShardForInt64 and the
// ID layout, which decide where a row lives); it does not use the router,
// its pools or its queries.
package handpgx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shardgen/shardgen/runtime"
)

// Item is a row of the items table.
type Item struct {
	ID      int64
	UserID  int64
	Title   string
	Body    string
	Views   int64
	Created time.Time
}

// Server is one physical server and the inclusive range of logical shards
// whose schemas it holds.
type Server struct {
	URL         string
	First, Last int
}

// ErrNotFound is returned when no row has the ID.
var ErrNotFound = errors.New("handpgx: not found")

// Store is the hand-written data layer of one shard group.
type Store struct {
	shards  int
	servers []server
	byShard []*pgxpool.Pool // logical shard -> its server's pool

	// Statement texts, one per logical shard, rendered once.
	insert, get, list, update, count, getMany, mint []string
}

type server struct {
	pool        *pgxpool.Pool
	first, last int
}

// The statements, with %s for the quoted schema. They are the statements
// shardgen generates, so that the comparison is one of code paths only.
const (
	insertSQL  = `INSERT INTO %s."items" ("user_id", "title", "body", "views", "created_at") VALUES ($1, $2, $3, $4, $5) RETURNING "id"`
	getSQL     = `SELECT "id", "user_id", "title", "body", "views", "created_at" FROM %s."items" WHERE "id" = $1`
	listSQL    = `SELECT "id", "user_id", "title", "body", "views", "created_at" FROM %s."items" WHERE "user_id" = $1 AND "id" < $2 ORDER BY "id" DESC LIMIT $3`
	updateSQL  = `UPDATE %s."items" SET "title" = $3, "body" = $4, "views" = $5, "created_at" = $6 WHERE "id" = $1 AND "user_id" = $2`
	countSQL   = `SELECT count(*) FROM %s."items"`
	getManySQL = `SELECT "id", "user_id", "title", "body", "views", "created_at" FROM %s."items" WHERE "id" = ANY($1)`
	// mintSQL mints $1 IDs of a shard for InsertManyCopy.
	mintSQL = `SELECT %s.shardgen_next_id() FROM generate_series(1, $1)`
)

// Open builds the store of group (schemas group_0000, ...) of shards
// logical shards over servers, with one pgxpool per server of maxConns
// connections sending statements in mode. Open does not connect.
func Open(ctx context.Context, group string, shards int, servers []Server, maxConns int32, mode pgx.QueryExecMode) (*Store, error) {
	s := &Store{shards: shards, byShard: make([]*pgxpool.Pool, shards)}
	for _, sv := range servers {
		cfg, err := pgxpool.ParseConfig(sv.URL)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("handpgx: server for shards %d-%d: %w", sv.First, sv.Last, err)
		}
		cfg.MaxConns = maxConns
		cfg.ConnConfig.DefaultQueryExecMode = mode
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("handpgx: server for shards %d-%d: %w", sv.First, sv.Last, err)
		}
		s.servers = append(s.servers, server{pool: p, first: sv.First, last: sv.Last})
		for sh := sv.First; sh <= sv.Last && sh < shards; sh++ {
			s.byShard[sh] = p
		}
	}
	for sh, p := range s.byShard {
		if p == nil {
			s.Close()
			return nil, fmt.Errorf("handpgx: no server holds logical shard %d", sh)
		}
	}
	render := func(f string) []string {
		out := make([]string, shards)
		for sh := range shards {
			out[sh] = fmt.Sprintf(f, runtime.QuoteIdent(runtime.SchemaName(group, runtime.Shard(sh))))
		}
		return out
	}
	s.insert, s.get, s.list, s.update, s.count = render(insertSQL), render(getSQL), render(listSQL), render(updateSQL), render(countSQL)
	s.getMany, s.mint = render(getManySQL), render(mintSQL)
	return s, nil
}

// Close closes the pools.
func (s *Store) Close() {
	for _, sv := range s.servers {
		sv.pool.Close()
	}
}

// shardOfKey is the placement of a user's rows.
func (s *Store) shardOfKey(user int64) int { return int(runtime.ShardForInt64(user, s.shards)) }

// shardOfID decodes the logical shard from an ID (the 13 bits above the
// 10-bit sequence); ok is false for an ID no shard of the group can hold.
func (s *Store) shardOfID(id int64) (int, bool) {
	sh := int(id>>runtime.DefaultSeqBits) & (1<<runtime.DefaultShardBits - 1)
	return sh, id > 0 && sh < s.shards
}

// Insert stores it on its user's shard; the database mints the ID, which
// Insert writes to it.ID.
func (s *Store) Insert(ctx context.Context, it *Item) error {
	sh := s.shardOfKey(it.UserID)
	return s.byShard[sh].QueryRow(ctx, s.insert[sh], it.UserID, it.Title, it.Body, it.Views, it.Created).Scan(&it.ID)
}

// Get returns the item with the ID, from the shard the ID names.
func (s *Store) Get(ctx context.Context, id int64) (*Item, error) {
	sh, ok := s.shardOfID(id)
	if !ok {
		return nil, ErrNotFound
	}
	it := new(Item)
	err := s.byShard[sh].QueryRow(ctx, s.get[sh], id).Scan(&it.ID, &it.UserID, &it.Title, &it.Body, &it.Views, &it.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return it, err
}

// List returns the newest limit items of user.
func (s *Store) List(ctx context.Context, user int64, limit int) ([]Item, error) {
	sh := s.shardOfKey(user)
	rows, err := s.byShard[sh].Query(ctx, s.list[sh], user, int64(1<<63-1), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]Item, 0, limit)
	for rows.Next() {
		out = append(out, Item{})
		it := &out[len(out)-1]
		if err := rows.Scan(&it.ID, &it.UserID, &it.Title, &it.Body, &it.Views, &it.Created); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// Update writes it over the row with its ID and user.
func (s *Store) Update(ctx context.Context, it *Item) error {
	sh, ok := s.shardOfID(it.ID)
	if !ok {
		return ErrNotFound
	}
	tag, err := s.byShard[sh].Exec(ctx, s.update[sh], it.ID, it.UserID, it.Title, it.Body, it.Views, it.Created)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// GetUpdateInsert is the workload's shard-bound transaction: in one
// transaction on the shard of the row with ID id, read the row, write it
// back with one more view, and insert a new row for the same user (given
// as fresh). Five round trips: BEGIN, the three statements, COMMIT.
func (s *Store) GetUpdateInsert(ctx context.Context, id int64, fresh *Item) error {
	sh, ok := s.shardOfID(id)
	if !ok {
		return ErrNotFound
	}
	return pgx.BeginFunc(ctx, s.byShard[sh], func(tx pgx.Tx) error {
		var it Item
		if err := tx.QueryRow(ctx, s.get[sh], id).Scan(&it.ID, &it.UserID, &it.Title, &it.Body, &it.Views, &it.Created); err != nil {
			return err
		}
		it.Views++
		if _, err := tx.Exec(ctx, s.update[sh], it.ID, it.UserID, it.Title, it.Body, it.Views, it.Created); err != nil {
			return err
		}
		if s.shardOfKey(fresh.UserID) != sh {
			return fmt.Errorf("handpgx: user %d is not on shard %d", fresh.UserID, sh)
		}
		return tx.QueryRow(ctx, s.insert[sh], fresh.UserID, fresh.Title, fresh.Body, fresh.Views, fresh.Created).Scan(&fresh.ID)
	})
}

// CountPipelined counts the rows of every shard: one pgx.Batch per server
// on one connection (a single round trip per server), servers in parallel.
func (s *Store) CountPipelined(ctx context.Context) (int64, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		errs  []error
	)
	for _, sv := range s.servers {
		wg.Go(func() {
			n, err := s.countServer(ctx, sv)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

func (s *Store) countServer(ctx context.Context, sv server) (int64, error) {
	batch := &pgx.Batch{}
	last := min(sv.last, s.shards-1)
	for sh := sv.first; sh <= last; sh++ {
		batch.Queue(s.count[sh])
	}
	br := sv.pool.SendBatch(ctx, batch)
	var sum int64
	for range batch.Len() {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			br.Close()
			return 0, err
		}
		sum += n
	}
	return sum, br.Close()
}

// CountSequential counts the rows of every shard with one round trip per
// logical shard, one after the other: what a fan-out costs without
// pipelining.
func (s *Store) CountSequential(ctx context.Context) (int64, error) {
	var total int64
	for sh := range s.shards {
		var n int64
		if err := s.byShard[sh].QueryRow(ctx, s.count[sh]).Scan(&n); err != nil {
			return 0, fmt.Errorf("handpgx: counting shard %d: %w", sh, err)
		}
		total += n
	}
	return total, nil
}

// GetMany returns the items of ids in the order asked (nil where there is
// none): the IDs grouped by shard, one = ANY($1) per shard, the shards of
// one server as one pgx.Batch (one round trip per server), servers in
// parallel. It is the floor generated GetMany is measured against.
func (s *Store) GetMany(ctx context.Context, ids []int64) ([]*Item, error) {
	byShard := map[int][]int64{}
	perServer := make([][]int, len(s.servers))
	for _, id := range ids {
		sh, ok := s.shardOfID(id)
		if !ok {
			continue
		}
		if _, seen := byShard[sh]; !seen {
			for i, sv := range s.servers {
				if sh >= sv.first && sh <= sv.last {
					perServer[i] = append(perServer[i], sh)
				}
			}
		}
		byShard[sh] = append(byShard[sh], id)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		found = make(map[int64]*Item, len(ids))
		errs  []error
	)
	for i, sv := range s.servers {
		if len(perServer[i]) == 0 {
			continue
		}
		wg.Go(func() {
			batch := &pgx.Batch{}
			for _, sh := range perServer[i] {
				batch.Queue(s.getMany[sh], byShard[sh])
			}
			br := sv.pool.SendBatch(ctx, batch)
			defer br.Close()
			for range batch.Len() {
				rows, err := br.Query()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				for rows.Next() {
					it := new(Item)
					if err := rows.Scan(&it.ID, &it.UserID, &it.Title, &it.Body, &it.Views, &it.Created); err != nil {
						rows.Close()
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					mu.Lock()
					found[it.ID] = it
					mu.Unlock()
				}
				rows.Close()
			}
		})
	}
	wg.Wait()
	out := make([]*Item, len(ids))
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, errors.Join(errs...)
}

// InsertManyCopy stores items with COPY, the alternative to generated
// InsertMany's multi-row INSERT ... RETURNING that BENCHMARKS.md measures:
// COPY returns nothing, so the IDs are minted first, by the shard's own ID
// function (one SELECT per shard, the shards of one server as one
// pgx.Batch), then each shard's rows are copied with their IDs (one COPY
// per shard: COPY cannot be pipelined), servers in parallel.
func (s *Store) InsertManyCopy(ctx context.Context, group string, items []*Item) error {
	byShard := map[int][]*Item{}
	perServer := make([][]int, len(s.servers))
	for _, it := range items {
		sh := s.shardOfKey(it.UserID)
		if _, seen := byShard[sh]; !seen {
			for i, sv := range s.servers {
				if sh >= sv.first && sh <= sv.last {
					perServer[i] = append(perServer[i], sh)
				}
			}
		}
		byShard[sh] = append(byShard[sh], it)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, sv := range s.servers {
		if len(perServer[i]) == 0 {
			continue
		}
		wg.Go(func() {
			err := sv.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
				batch := &pgx.Batch{}
				for _, sh := range perServer[i] {
					batch.Queue(s.mint[sh], len(byShard[sh]))
				}
				br := c.SendBatch(ctx, batch)
				for _, sh := range perServer[i] {
					rows, err := br.Query()
					if err != nil {
						br.Close()
						return err
					}
					k := 0
					for rows.Next() {
						if err := rows.Scan(&byShard[sh][k].ID); err != nil {
							rows.Close()
							br.Close()
							return err
						}
						k++
					}
					rows.Close()
				}
				if err := br.Close(); err != nil {
					return err
				}
				for _, sh := range perServer[i] {
					its := byShard[sh]
					_, err := c.CopyFrom(ctx, pgx.Identifier{runtime.SchemaName(group, runtime.Shard(sh)), "items"},
						[]string{"id", "user_id", "title", "body", "views", "created_at"},
						pgx.CopyFromSlice(len(its), func(k int) ([]any, error) {
							it := its[k]
							return []any{it.ID, it.UserID, it.Title, it.Body, it.Views, it.Created}, nil
						}))
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Doc is a row of the docs table of group small (benchdb.SmallDoc).
type Doc struct {
	ID     int64
	UserID int64
	Slug   string
	Body   string
	Rev    int64
}

// ErrConflict is returned by UpdateDoc when the row's version moved on.
var ErrConflict = errors.New("handpgx: version conflict")

// The statements of the docs table, as shardgen generates them.
const (
	upsertDocSQL = `INSERT INTO %s."docs" AS "existing" ("user_id", "slug", "body", "rev") VALUES ($1, $2, $3, $4) ON CONFLICT ("slug") DO UPDATE SET "body" = EXCLUDED."body", "rev" = "existing"."rev" + 1 WHERE "existing"."user_id" = EXCLUDED."user_id" RETURNING "id", "rev"`
	updateDocSQL = `WITH cur AS (SELECT 1 FROM %[1]s."docs" WHERE "id" = $1 AND "user_id" = $2), upd AS (UPDATE %[1]s."docs" SET "slug" = $4, "body" = $5, "rev" = "rev" + 1 WHERE "id" = $1 AND "user_id" = $2 AND "rev" = $3 RETURNING 1) SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM cur)`
)

// Docs is the hand-written data layer of the docs table of a Store's group.
type Docs struct {
	s              *Store
	upsert, update []string
}

// Docs returns the docs table's statements rendered for every shard of group.
func (s *Store) Docs(group string) *Docs {
	d := &Docs{s: s, upsert: make([]string, s.shards), update: make([]string, s.shards)}
	for sh := range s.shards {
		q := runtime.QuoteIdent(runtime.SchemaName(group, runtime.Shard(sh)))
		d.upsert[sh], d.update[sh] = fmt.Sprintf(upsertDocSQL, q), fmt.Sprintf(updateDocSQL, q)
	}
	return d
}

// Upsert inserts doc or writes it over the row of its slug, setting its ID
// and version.
func (d *Docs) Upsert(ctx context.Context, doc *Doc) error {
	sh := d.s.shardOfKey(doc.UserID)
	return d.s.byShard[sh].QueryRow(ctx, d.upsert[sh], doc.UserID, doc.Slug, doc.Body, doc.Rev).Scan(&doc.ID, &doc.Rev)
}

// Update writes doc while its version is still doc.Rev, and bumps it.
func (d *Docs) Update(ctx context.Context, doc *Doc) error {
	sh, ok := d.s.shardOfID(doc.ID)
	if !ok {
		return ErrNotFound
	}
	var updated, found bool
	if err := d.s.byShard[sh].QueryRow(ctx, d.update[sh], doc.ID, doc.UserID, doc.Rev, doc.Slug, doc.Body).Scan(&updated, &found); err != nil {
		return err
	}
	switch {
	case !found:
		return ErrNotFound
	case !updated:
		return ErrConflict
	}
	doc.Rev++
	return nil
}
