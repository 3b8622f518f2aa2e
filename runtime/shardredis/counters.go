package shardredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/internal/confcheck"
)

// FlushesTable is the table, in every shard schema of a group with
// counters, that records the flushes applied to that shard: the SQL half of
// the exactly-once flush. CounterFlushesDDL creates it.
const FlushesTable = "shardgen_counter_flushes"

// CounterFlushesDDL creates FlushesTable in a shard schema; put it in the
// group's migrations (the generator does, for a model with a counter).
const CounterFlushesDDL = `CREATE TABLE IF NOT EXISTS @schema@.` + FlushesTable + ` (
	flush_id text PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
);`

// KeyType is the type of a counter table's primary key.
type KeyType int

const (
	// Int64Key is a bigint key (int64, int32, int16 Go values).
	Int64Key KeyType = iota
	// StringKey is a text key.
	StringKey
)

// CounterTable is a table of a shard group with counter columns: bigint
// columns incremented through Redis and flushed into the table.
type CounterTable struct {
	Table   string   // unquoted table name in each shard schema
	Key     string   // primary key column
	KeyType KeyType  // its type
	Columns []string // the counter columns (bigint NOT NULL)
}

// Counters buffers increments of the counter columns of one shard group in
// the group's Redis servers (the Sentry seed: INCR in Redis, one SQL UPDATE
// per row per interval instead of one per event) and flushes them into the
// group's databases exactly once. Safe for concurrent use.
//
// # Data
//
// Per logical shard, on that shard's Redis server (keys under
// Group.Key(shard), so they move with the shard):
//
//	c:p          hash: field "table|column|key" -> pending delta (HINCRBY)
//	c:s:<flush>  hash: a snapshot of c:p taken by flush <flush>
//	c:i          set: the flush ids whose snapshots still exist
//	c:g          a generation, incremented by every snapshot (for exact reads)
//
// # Flush, exactly once
//
//  1. Snapshot: one script per Redis server renames every owned shard's c:p
//     to c:s:<id> under a fresh random flush id and adds the id to c:i, and
//     returns every id in c:i (this one's and those of flushes that died).
//     Add never waits: a later HINCRBY starts a new c:p.
//  2. Read: HGETALL of each snapshot, pipelined per Redis server.
//  3. Apply: for each (shard, table, snapshot), one statement that records
//     "<id>:<table>" in the shard's FlushesTable and updates every row of
//     the snapshot once (UPDATE ... SET views = views + delta FROM
//     unnest(...)): one UPDATE per row per interval, in one transaction
//     with the record. If the record exists (an earlier flusher applied it
//     and died before deleting the snapshot, or a concurrent flusher is
//     applying it now), the statement updates nothing. Statements run
//     grouped by database server, those of one server in parallel up to
//     ApplyConns connections.
//  4. Delete: one script per snapshot deletes it and its id from c:i,
//     pipelined per Redis server, only after every statement of that
//     snapshot committed.
//
// A flusher killed at any point leaves either a pending hash (not yet
// snapshotted) or a snapshot whose id is in c:i; the next Flush, by any
// process, applies what is not recorded and deletes it. No increment is
// lost and none is applied twice. Flush ids are random (never a Redis
// counter), so a Redis restart cannot reuse one.
//
// # Redis persistence
//
// Pending deltas live only in Redis until flushed, so what a Redis crash
// loses is what its persistence loses:
//
//   - appendonly yes, appendfsync always (what counters need to lose
//     nothing): no acknowledged increment is lost, on a redis-server
//     crash (SIGKILL) or a machine crash. TestCountersRedisRestart checks
//     it with a SIGKILL and a restart in the middle of increments and
//     flushes.
//   - appendonly yes, appendfsync everysec (Redis's usual setting): up to
//     about the last two seconds of acknowledged increments. While a slow
//     fsync runs Redis postpones writing the file but keeps replying, so
//     even a process crash loses them (seen on the loaded test machine:
//     553 of 31,144 increments).
//   - no persistence: every increment not yet flushed.
//
// An increment whose call returned an error may or may not have been
// counted. Without persistence a restart loses every
// delta not yet flushed. In every case what was flushed is in the database
// and is never applied twice: the flush record is in the same transaction
// as the UPDATE, and a snapshot that reappears after a restart is skipped
// by its record (records are pruned after RetainRecords).
type Counters struct {
	rdb    *Group
	db     *runtime.Group
	tables map[string]*counterTable
	names  []string

	// ApplyConns bounds the statements of one flush run at once on one
	// database server. Default 4.
	ApplyConns int
	// RetainRecords is how long Prune keeps flush records. A snapshot
	// restored after longer (Redis restored from an older backup) would be
	// applied again. Default 7 days.
	RetainRecords time.Duration

	step func(string) // test hook: called at each step of a flush
}

type counterTable struct {
	CounterTable
	cols  map[string]int
	apply *runtime.Query
	read  *runtime.Query
}

// NewCounters returns the counters of the tables in group db, buffered in
// the Redis servers of the same group. Table and column names must be
// lower-case identifiers.
func NewCounters(rdb *Redis, db *runtime.Group, tables ...CounterTable) (*Counters, error) {
	rg, err := rdb.Group(db.Name())
	if err != nil {
		return nil, err
	}
	c := &Counters{rdb: rg, db: db, tables: map[string]*counterTable{}, ApplyConns: 4, RetainRecords: 7 * 24 * time.Hour}
	var p problems
	for _, t := range tables {
		if msg := checkName("counter table", t.Table); msg != "" {
			p.add("%s", msg)
			continue
		}
		if msg := checkName("key column", t.Key); msg != "" {
			p.add("counter table %q: %s", t.Table, msg)
		}
		if len(t.Columns) == 0 {
			p.add("counter table %q has no counter columns", t.Table)
		}
		if _, dup := c.tables[t.Table]; dup {
			p.add("counter table %q is listed twice", t.Table)
		}
		ct := &counterTable{CounterTable: t, cols: map[string]int{}}
		for i, col := range t.Columns {
			if msg := checkName("counter column", col); msg != "" {
				p.add("counter table %q: %s", t.Table, msg)
			}
			ct.cols[col] = i
		}
		ct.apply, ct.read = c.prepare(ct)
		c.tables[t.Table] = ct
		c.names = append(c.names, t.Table)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Counters) prepare(t *counterTable) (apply, read *runtime.Query) {
	q := runtime.QuoteIdent
	keyType := "bigint"
	if t.KeyType == StringKey {
		keyType = "text"
	}
	var set, cols, arrays []string
	arrays = append(arrays, "$2::"+keyType+"[]")
	for i, col := range t.Columns {
		d := "d" + strconv.Itoa(i)
		set = append(set, fmt.Sprintf("%s = t.%s + v.%s", q(col), q(col), d))
		cols = append(cols, d)
		arrays = append(arrays, fmt.Sprintf("$%d::bigint[]", i+3))
	}
	apply = c.db.Prepare(fmt.Sprintf(
		`WITH f AS (INSERT INTO @schema@.%s (flush_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1) `+
			`UPDATE @schema@.%s AS t SET %s FROM f, unnest(%s) AS v(k, %s) WHERE t.%s = v.k`,
		FlushesTable, q(t.Table), strings.Join(set, ", "), strings.Join(arrays, ", "), strings.Join(cols, ", "), q(t.Key)))
	var sel []string
	for _, col := range t.Columns {
		sel = append(sel, "t."+q(col))
	}
	read = c.db.Prepare(fmt.Sprintf(
		`SELECT %s, ARRAY(SELECT flush_id FROM @schema@.%s WHERE flush_id = ANY($2::text[])) FROM @schema@.%s AS t WHERE t.%s = $1`,
		strings.Join(sel, ", "), FlushesTable, q(t.Table), q(t.Key)))
	return apply, read
}

func (c *Counters) table(table, column string) (*counterTable, int, error) {
	t, ok := c.tables[table]
	if !ok {
		return nil, 0, fmt.Errorf("shardgen redis: no counter table %q%s", table, confcheck.Suggest(table, c.names))
	}
	i, ok := t.cols[column]
	if !ok {
		return nil, 0, fmt.Errorf("shardgen redis: table %q has no counter column %q%s", table, column, confcheck.Suggest(column, t.Columns))
	}
	return t, i, nil
}

// formatKey renders a key for a Redis field; it checks the Go type against
// the table's key type.
func formatKey(t *counterTable, key any) (string, error) {
	switch k := key.(type) {
	case int64:
		if t.KeyType == Int64Key {
			return strconv.FormatInt(k, 10), nil
		}
	case int32:
		if t.KeyType == Int64Key {
			return strconv.FormatInt(int64(k), 10), nil
		}
	case int16:
		if t.KeyType == Int64Key {
			return strconv.FormatInt(int64(k), 10), nil
		}
	case int:
		if t.KeyType == Int64Key {
			return strconv.Itoa(k), nil
		}
	case string:
		if t.KeyType == StringKey {
			return k, nil
		}
	}
	return "", fmt.Errorf("shardgen redis: counter table %q: key %v of type %T does not match its key column %q", t.Table, key, key, t.Key)
}

func field(table, column, key string) string { return table + "|" + column + "|" + key }

func (c *Counters) server(s runtime.Shard) (*Server, rueidis.Client, error) {
	srv := c.rdb.ServerOf(s)
	if srv == nil {
		return nil, nil, fmt.Errorf("shardgen redis: shard %d is outside group %s (0-%d)", s, c.rdb.name, c.rdb.nShards-1)
	}
	cl, err := srv.Client()
	return srv, cl, err
}

// Add records delta for the counter column of the row with this key, which
// lives on logical shard s: one HINCRBY on the shard's Redis server. The
// database is updated by the next Flush. An error (ErrUnavailable) means
// the increment may or may not have been recorded.
func (c *Counters) Add(ctx context.Context, s runtime.Shard, table, column string, key any, delta int64) error {
	t, _, err := c.table(table, column)
	if err != nil {
		return err
	}
	k, err := formatKey(t, key)
	if err != nil {
		return err
	}
	srv, cl, err := c.server(s)
	if err != nil {
		return err
	}
	return wrap(srv, cl.Do(ctx, cl.B().Hincrby().Key(c.rdb.Key(s, "c:p")).Field(field(table, column, k)).Increment(delta).Build()).Error())
}

// readScript returns {generation, pending delta, id1, delta1, id2, ...}
// for one field: the pending hash and every snapshot not yet deleted.
var readScript = rueidis.NewLuaScript(`
local out = {redis.call('GET', KEYS[1]) or '0', redis.call('HGET', KEYS[2], ARGV[1]) or '0'}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  out[#out+1] = id
  out[#out+1] = redis.call('HGET', ARGV[2] .. id, ARGV[1]) or '0'
end
return out`)

var genScript = rueidis.NewLuaScript(`return redis.call('GET', KEYS[1]) or '0'`)

// Get returns the counter's value: the stored column plus every delta
// still pending in Redis (pending, or in a snapshot whose flush is not yet
// recorded in the database). A snapshot taken between its reads makes it
// read again, so the sum counts every acknowledged increment exactly once.
// A row that does not exist returns an error matching runtime.ErrNotFound.
func (c *Counters) Get(ctx context.Context, s runtime.Shard, table, column string, key any) (int64, error) {
	t, col, err := c.table(table, column)
	if err != nil {
		return 0, err
	}
	k, err := formatKey(t, key)
	if err != nil {
		return 0, err
	}
	srv, cl, err := c.server(s)
	if err != nil {
		return 0, err
	}
	keys := []string{c.rdb.Key(s, "c:g"), c.rdb.Key(s, "c:p"), c.rdb.Key(s, "c:i")}
	f := field(table, column, k)
	for attempt := 0; ; attempt++ {
		vals, err := readScript.Exec(ctx, cl, keys, []string{f, c.rdb.Key(s, "c:s:")}).AsStrSlice()
		if err != nil {
			return 0, wrap(srv, err)
		}
		pending, _ := strconv.ParseInt(vals[1], 10, 64)
		snap := map[string]int64{}
		var records []string
		for i := 2; i+1 < len(vals); i += 2 {
			d, _ := strconv.ParseInt(vals[i+1], 10, 64)
			snap[vals[i]+":"+table] = d
			records = append(records, vals[i]+":"+table)
		}
		stored := make([]int64, len(t.Columns))
		dest := make([]any, 0, len(t.Columns)+1)
		for i := range stored {
			dest = append(dest, &stored[i])
		}
		var applied []string
		dest = append(dest, &applied)
		var dbKey any = k
		if t.KeyType == Int64Key {
			n, _ := strconv.ParseInt(k, 10, 64)
			dbKey = n
		}
		if err := c.db.At(s).QueryRow(ctx, t.read, dbKey, records).Scan(dest...); err != nil {
			return 0, err
		}
		gen, err := genScript.Exec(ctx, cl, keys[:1], nil).ToString()
		if err != nil {
			return 0, wrap(srv, err)
		}
		if gen != vals[0] && attempt < 10 {
			continue // a snapshot was taken meanwhile: its deltas may be counted twice
		}
		v := stored[col] + pending
		for _, id := range applied {
			delete(snap, id)
		}
		for _, d := range snap {
			v += d
		}
		return v, nil
	}
}

// snapshotScript: ARGV = {key prefix "sg:<group>:", flush id, shard...}.
// For every shard, renames c:p to c:s:<id> when it exists, and returns
// {shard, ids...} pairs as a flat list "shard", "n", id1..idn.
var snapshotScript = rueidis.NewLuaScript(`
local out = {}
for i = 3, #ARGV do
  local base = ARGV[1] .. ARGV[i] .. ':c:'
  if redis.call('EXISTS', base .. 'p') == 1 then
    redis.call('RENAME', base .. 'p', base .. 's:' .. ARGV[2])
    redis.call('SADD', base .. 'i', ARGV[2])
    redis.call('INCR', base .. 'g')
  end
  local ids = redis.call('SMEMBERS', base .. 'i')
  if #ids > 0 then
    out[#out+1] = ARGV[i]
    out[#out+1] = tostring(#ids)
    for _, id in ipairs(ids) do out[#out+1] = id end
  end
end
return out`)

// deleteScript removes a snapshot and its id, atomically.
var deleteScript = rueidis.NewLuaScript(`
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1`)

// FlushStats says what one Flush did.
type FlushStats struct {
	Snapshots  int // snapshots applied or skipped (this flush's and leftovers)
	Statements int // apply statements run (one per shard, table and snapshot)
	Rows       int // rows updated (each at most once per statement)
	Skipped    int // statements whose flush was already recorded
}

type snapshot struct {
	shard  runtime.Shard
	id     string
	srv    *Server
	fields map[string]string
}

// Flush applies every pending delta to the database exactly once (see
// Counters). It returns the first error after finishing what it can; a
// failed Flush is completed by the next one.
func (c *Counters) Flush(ctx context.Context) (FlushStats, error) {
	var st FlushStats
	id, err := newFlushID()
	if err != nil {
		return st, err
	}
	c.hook("snapshot")
	snaps, err := c.snapshot(ctx, id)
	c.hook("snapshotted")
	if len(snaps) == 0 {
		return st, err
	}
	if rerr := c.read(ctx, snaps); rerr != nil {
		err = errors.Join(err, rerr)
	}
	c.hook("read")
	done, ast, aerr := c.apply(ctx, snaps)
	st = ast
	if aerr != nil {
		err = errors.Join(err, aerr)
	}
	c.hook("applied")
	if derr := c.delete(ctx, done); derr != nil {
		err = errors.Join(err, derr)
	}
	c.hook("deleted")
	return st, err
}

func (c *Counters) hook(step string) {
	if c.step != nil {
		c.step(step)
	}
}

func newFlushID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + hex.EncodeToString(b[:]), nil
}

// snapshot runs the snapshot script on every Redis server of the group.
func (c *Counters) snapshot(ctx context.Context, id string) ([]*snapshot, error) {
	var (
		mu    sync.Mutex
		out   []*snapshot
		errs  []error
		wg    sync.WaitGroup
		group = "sg:" + c.rdb.name + ":"
	)
	for _, srv := range c.rdb.servers {
		wg.Go(func() {
			args := []string{group, id}
			for s := srv.rng.First; s <= srv.rng.Last; s++ {
				args = append(args, strconv.Itoa(int(s)))
			}
			var vals []string
			cl, err := srv.Client()
			if err == nil {
				vals, err = snapshotScript.Exec(ctx, cl, nil, args).AsStrSlice()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, wrap(srv, err))
				return
			}
			for i := 0; i+1 < len(vals); {
				sh, _ := strconv.Atoi(vals[i])
				n, _ := strconv.Atoi(vals[i+1])
				for _, sid := range vals[i+2 : i+2+n] {
					out = append(out, &snapshot{shard: runtime.Shard(sh), id: sid, srv: srv})
				}
				i += 2 + n
			}
		})
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool {
		if out[i].shard != out[j].shard {
			return out[i].shard < out[j].shard
		}
		return out[i].id < out[j].id
	})
	return out, errors.Join(errs...)
}

// read fills every snapshot's fields: HGETALL, pipelined per server.
func (c *Counters) read(ctx context.Context, snaps []*snapshot) error {
	bySrv := map[*Server][]*snapshot{}
	for _, s := range snaps {
		bySrv[s.srv] = append(bySrv[s.srv], s)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for srv, ss := range bySrv {
		wg.Go(func() {
			cl, err := srv.Client()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			cmds := make(rueidis.Commands, len(ss))
			for i, s := range ss {
				cmds[i] = cl.B().Hgetall().Key(c.rdb.Key(s.shard, "c:s:"+s.id)).Build()
			}
			for i, res := range cl.DoMulti(ctx, cmds...) {
				m, err := res.AsStrMap()
				if err != nil {
					mu.Lock()
					errs = append(errs, wrap(srv, err))
					mu.Unlock()
					continue
				}
				ss[i].fields = m
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// statement is one apply statement: one table of one snapshot.
type statement struct {
	snap *snapshot
	t    *counterTable
	keys any // []int64 or []string
	cols [][]int64
}

// apply runs the statements, grouped by database server; it returns the
// snapshots all of whose statements committed.
func (c *Counters) apply(ctx context.Context, snaps []*snapshot) ([]*snapshot, FlushStats, error) {
	var st FlushStats
	var errs []error
	bySrv := map[*runtime.Server][]*statement{}
	var order []*runtime.Server
	pendingOf := map[*snapshot]int{}
	var ready []*snapshot
	for _, s := range snaps {
		if s.fields == nil {
			continue // not read: leave it for the next flush
		}
		st.Snapshots++
		stmts, err := c.statements(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(stmts) == 0 {
			ready = append(ready, s) // an empty snapshot: nothing to apply
			continue
		}
		pendingOf[s] = len(stmts)
		srv := c.db.ServerOf(s.shard)
		if _, ok := bySrv[srv]; !ok {
			order = append(order, srv)
		}
		bySrv[srv] = append(bySrv[srv], stmts...)
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
		n  int // statements started, for the test hook
	)
	conns := max(c.ApplyConns, 1)
	for _, srv := range order {
		stmts := bySrv[srv]
		sem := make(chan struct{}, conns)
		for _, stmt := range stmts {
			sem <- struct{}{}
			mu.Lock()
			c.hook("apply:" + strconv.Itoa(n))
			n++
			mu.Unlock()
			wg.Go(func() {
				defer func() { <-sem }()
				args := make([]any, 0, 2+len(stmt.cols))
				args = append(args, stmt.snap.id+":"+stmt.t.Table, stmt.keys)
				for _, col := range stmt.cols {
					args = append(args, col)
				}
				tag, err := c.db.At(stmt.snap.shard).Exec(ctx, stmt.t.apply, args...)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					pendingOf[stmt.snap] = -1 << 30 // never deleted by this flush
					return
				}
				st.Statements++
				if tag.RowsAffected() == 0 {
					st.Skipped++
				}
				st.Rows += int(tag.RowsAffected())
				if pendingOf[stmt.snap]--; pendingOf[stmt.snap] == 0 {
					ready = append(ready, stmt.snap)
				}
			})
		}
	}
	wg.Wait()
	return ready, st, errors.Join(errs...)
}

// statements groups a snapshot's fields by table into apply statements.
func (c *Counters) statements(s *snapshot) ([]*statement, error) {
	byTable := map[string]*statement{}
	rowOf := map[string]map[string]int{}
	var names []string
	for f, v := range s.fields {
		table, rest, ok1 := strings.Cut(f, "|")
		column, key, ok2 := strings.Cut(rest, "|")
		t, col, err := c.table(table, column)
		if !ok1 || !ok2 || err != nil {
			// A field of a table or column this process does not know
			// (a newer version wrote it): leave the snapshot alone.
			return nil, fmt.Errorf("shardgen redis: snapshot %s of shard %d holds field %q that this process does not know; not applied", s.id, s.shard, f)
		}
		d, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("shardgen redis: snapshot %s of shard %d: field %q holds %q, not an integer", s.id, s.shard, f, v)
		}
		stmt, ok := byTable[table]
		if !ok {
			stmt = &statement{snap: s, t: t, cols: make([][]int64, len(t.Columns))}
			if t.KeyType == Int64Key {
				stmt.keys = []int64{}
			} else {
				stmt.keys = []string{}
			}
			byTable[table] = stmt
			rowOf[table] = map[string]int{}
			names = append(names, table)
		}
		row, ok := rowOf[table][key]
		if !ok {
			row = len(rowOf[table])
			rowOf[table][key] = row
			switch ks := stmt.keys.(type) {
			case []int64:
				n, err := strconv.ParseInt(key, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("shardgen redis: snapshot %s of shard %d: key %q of table %q is not an integer", s.id, s.shard, key, table)
				}
				stmt.keys = append(ks, n)
			case []string:
				stmt.keys = append(ks, key)
			}
			for i := range stmt.cols {
				stmt.cols[i] = append(stmt.cols[i], 0)
			}
		}
		stmt.cols[col][row] += d
	}
	sort.Strings(names)
	out := make([]*statement, len(names))
	for i, n := range names {
		out[i] = byTable[n]
	}
	return out, nil
}

// delete removes applied snapshots, pipelined per Redis server.
func (c *Counters) delete(ctx context.Context, snaps []*snapshot) error {
	bySrv := map[*Server][]*snapshot{}
	for _, s := range snaps {
		bySrv[s.srv] = append(bySrv[s.srv], s)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for srv, ss := range bySrv {
		wg.Go(func() {
			cl, err := srv.Client()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			execs := make([]rueidis.LuaExec, len(ss))
			for i, s := range ss {
				execs[i] = rueidis.LuaExec{Keys: []string{c.rdb.Key(s.shard, "c:s:"+s.id), c.rdb.Key(s.shard, "c:i")}, Args: []string{s.id}}
			}
			for _, res := range deleteScript.ExecMulti(ctx, cl, execs...) {
				if err := res.Error(); err != nil {
					mu.Lock()
					errs = append(errs, wrap(srv, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run flushes every interval until ctx ends, and prunes old flush records
// once an hour; errors go to onError (nil: dropped), and the next flush
// completes a failed one.
func (c *Counters) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := c.Flush(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if err := c.Prune(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

var pruneSQL = `DELETE FROM @schema@.` + FlushesTable + ` WHERE applied_at < now() - make_interval(secs => $1)`

// Prune deletes flush records older than RetainRecords from every shard
// (one statement per shard).
func (c *Counters) Prune(ctx context.Context) error {
	q := c.db.Prepare(pruneSQL)
	var errs []error
	for s := range c.db.Shards() {
		if _, err := c.db.At(runtime.Shard(s)).Exec(ctx, q, c.RetainRecords.Seconds()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
