package modelmove

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/placement"
)

// A move from a database into a shard group (a partition model being
// sharded) differs from a move between databases where the target is
// written: each row goes to the logical shard of its shard key, and since
// the old IDs carry no shard, it gets a new ID minted in that shard
// (shardgen_next_id). The map from old to new IDs is a table on the
// control database, "shardgen_legacy_<table>" (legacy_id, id, shard),
// written before the rows it maps, so that a mover killed in between
// reuses the IDs it minted; LegacyIDs looks it up. Staging, fence,
// verification (every row's md5 through the map) and the switch are done
// per shard.

// MapTable is the name of the old-to-new ID map of a table moved into a
// shard group, in schema public of the control database.
func MapTable(table string) string { return "shardgen_legacy_" + table }

func (m *mover) intoGroup() bool { return m.st.State.Group != "" }

func (m *mover) mapTable() string { return "public." + q(MapTable(m.st.Table)) }

// stagedShard is the table of shard s while it is staged; liveShard where
// the group's code reads it.
func (m *mover) stagedSchema(s runtime.Shard) string {
	return fmt.Sprintf("shardgen_modelmove_%d_%d", m.st.ID, s)
}
func (m *mover) stagedShard(s runtime.Shard) string {
	return q(m.stagedSchema(s)) + "." + q(m.st.Table)
}
func (m *mover) liveShard(s runtime.Shard) string { return q(m.g.Schema(s)) + "." + q(m.st.Table) }

var (
	uniqueKeyRE = regexp.MustCompile(`UNIQUE \("([a-z0-9_]+)", "id"\)`)
	columnRE    = `(?m)^\s+"%s" ([a-z ]+?)(?: NOT NULL)?(?: DEFAULT .*)?,?$`
)

// tableDDL returns the CREATE TABLE statement of table in the group's
// migrations.
func tableDDL(spec runtime.Spec, group, table string) string {
	head := "CREATE TABLE IF NOT EXISTS " + runtime.SchemaToken + "." + runtime.QuoteIdent(table) + " ("
	for _, g := range spec.Groups {
		if g.Name != group {
			continue
		}
		for _, mg := range g.Migrations {
			if i := strings.Index(mg.SQL, head); i >= 0 {
				rest := mg.SQL[i:]
				if j := strings.Index(rest, "\n);"); j >= 0 {
					return rest[:j]
				}
				return rest
			}
		}
	}
	return ""
}

// shardKey returns the shard key column of table in group: key when given,
// else the one the generated UNIQUE (key, id) constraint names.
func shardKey(spec runtime.Spec, group, table, key string) (string, error) {
	ddl := tableDDL(spec, group, table)
	if key == "" {
		mm := uniqueKeyRE.FindStringSubmatch(ddl)
		if mm == nil {
			return "", fmt.Errorf("shardgen model move: cannot tell the shard key of table %s in group %s from the Spec; name it (-key)", table, group)
		}
		key = mm[1]
	}
	if !tableRE.MatchString(key) || !regexp.MustCompile(fmt.Sprintf(columnRE, regexp.QuoteMeta(key))).MatchString(ddl) {
		return "", fmt.Errorf("shardgen model move: table %s in group %s has no column %q", table, group, key)
	}
	return key, nil
}

// connectGroup opens a router on the target group's servers, following the
// placement table when there is one.
func (m *mover) connectGroup(ctx context.Context) error {
	var gs runtime.GroupSpec
	for _, g := range m.opts.Spec.Groups {
		if g.Name == m.st.State.Group {
			gs = g
		}
	}
	cfg := runtime.Config{Groups: map[string][]runtime.ServerConfig{gs.Name: m.opts.Config.Groups[gs.Name]}, Pool: runtime.PoolConfig{MaxConns: 4}}
	r, err := runtime.Open(ctx, cfg, runtime.Spec{Groups: []runtime.GroupSpec{gs}})
	if err != nil {
		return fmt.Errorf("shardgen model move: group %s: %w", gs.Name, err)
	}
	m.r = r
	if m.g, err = r.Group(gs.Name); err != nil {
		return err
	}
	var placed bool
	if err := m.ctl.QueryRow(ctx, "SELECT pg_catalog.to_regclass('public.shardgen_placement') IS NOT NULL").Scan(&placed); err != nil {
		return err
	}
	if placed {
		store, err := placement.Open(ctx, m.opts.Control)
		if err != nil {
			return err
		}
		defer store.Close()
		p, err := store.Load(ctx)
		if err != nil {
			return err
		}
		if _, ok := p.Groups[gs.Name]; ok {
			p.Groups = map[string][]string{gs.Name: p.Groups[gs.Name]}
			if err := r.ApplyPlacement(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachShard runs fn on a connection of every shard's server.
func (m *mover) eachShard(ctx context.Context, fn func(s runtime.Shard, c *pgx.Conn) error) error {
	for s := range runtime.Shard(m.g.Shards()) {
		err := m.g.At(s).WithConn(ctx, func(c *pgx.Conn, _ string) error { return fn(s, c) })
		if err != nil {
			return fmt.Errorf("group %s shard %d: %w", m.g.Name(), s, err)
		}
	}
	return nil
}

// preflightGroup checks the shard key's column and values on the source
// and that no shard has rows of the table.
func (m *mover) preflightGroup(ctx context.Context, src tableInfo) error {
	key := m.st.State.Key
	typ, ok := src.cols[key]
	if !ok {
		return fmt.Errorf("table %s on database %s has no column %s, the shard key in group %s", m.st.Table, m.st.Source, key, m.st.Target)
	}
	mm := regexp.MustCompile(fmt.Sprintf(columnRE, regexp.QuoteMeta(key))).FindStringSubmatch(tableDDL(m.opts.Spec, m.st.Target, m.st.Table))
	if mm == nil || mm[1] != typ || (typ != "bigint" && typ != "text") {
		want := "?"
		if mm != nil {
			want = mm[1]
		}
		return fmt.Errorf("the shard key %s of table %s is of type %s on database %s and %s in group %s; a move needs the same type, bigint or text", key, m.st.Table, typ, m.st.Source, want, m.st.Target)
	}
	var nulls int64
	if err := m.src.QueryRow(ctx, "SELECT count(*) FROM "+m.srcTable()+" WHERE "+q(key)+" IS NULL").Scan(&nulls); err != nil {
		return err
	}
	if nulls > 0 {
		return fmt.Errorf("%d rows of table %s on database %s have no shard key (%s is NULL): give them one first, they have no shard", nulls, m.st.Table, m.st.Source, key)
	}
	return m.eachShard(ctx, func(s runtime.Shard, c *pgx.Conn) error {
		t, err := describe(ctx, c, m.liveShard(s))
		if err != nil || t.kind != "r" {
			return err
		}
		var rows bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+m.liveShard(s)+")").Scan(&rows); err != nil {
			return err
		}
		if rows {
			return fmt.Errorf("%s already has rows; a move copies into empty tables", m.liveShard(s))
		}
		return nil
	})
}

// stagingGroup creates the table in every shard (Migrate) and stages it
// behind a failing view, as for a database; and the ID map.
func (m *mover) stagingGroup(ctx context.Context) error {
	var gs runtime.GroupSpec
	for _, g := range m.opts.Spec.Groups {
		if g.Name == m.st.Target {
			gs = g
		}
	}
	if err := runtime.Migrate(ctx, m.r, runtime.Spec{Groups: []runtime.GroupSpec{gs}}, runtime.MigrateOptions{}); err != nil {
		return fmt.Errorf("creating the table in group %s: %w", m.st.Target, err)
	}
	if _, err := m.ctl.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+m.mapTable()+" (legacy_id bigint PRIMARY KEY, id bigint NOT NULL, shard integer NOT NULL)"); err != nil {
		return err
	}
	var staged tableInfo
	err := m.eachShard(ctx, func(s runtime.Shard, c *pgx.Conn) error {
		t, err := describe(ctx, c, m.stagedShard(s))
		if err != nil {
			return err
		}
		if t.kind == "" {
			live, err := describe(ctx, c, m.liveShard(s))
			if err != nil {
				return err
			}
			if live.kind != "r" {
				return fmt.Errorf("%s is missing after Migrate", m.liveShard(s))
			}
			if err := m.stageTable(ctx, c, m.liveShard(s), q(m.stagedSchema(s)), m.stagedShard(s), q(m.g.Schema(s))); err != nil {
				return err
			}
			if t, err = describe(ctx, c, m.stagedShard(s)); err != nil {
				return err
			}
		}
		staged = t
		return nil
	})
	if err != nil {
		return fmt.Errorf("staging the table in group %s: %w", m.st.Target, err)
	}
	return m.columns(ctx, staged)
}

// mapping returns the map entries of old IDs.
func (m *mover) mapping(ctx context.Context, old []int64) (map[int64][2]int64, error) {
	rows, err := m.ctl.Query(ctx, "SELECT legacy_id, id, shard FROM "+m.mapTable()+" WHERE legacy_id = ANY($1)", old)
	if err != nil {
		return nil, err
	}
	out := map[int64][2]int64{}
	for rows.Next() {
		var l, id, s int64
		if err := rows.Scan(&l, &id, &s); err != nil {
			return nil, err
		}
		out[l] = [2]int64{id, s}
	}
	return out, rows.Err()
}

// applyGroup writes rows (a JSON array of the source's rows) to the shards
// of their keys and deletes the rows of the old IDs gone: new IDs are
// minted for rows not mapped yet (or whose key now names another shard)
// and recorded in the map before the rows are written.
func (m *mover) applyGroup(ctx context.Context, rowsJSON string, gone []int64) error {
	dec := json.NewDecoder(strings.NewReader(rowsJSON))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		return err
	}
	pk, key := m.st.State.PK, m.st.State.Key
	n := m.g.Shards()
	olds := slices.Clone(gone)
	shardOf := make([]runtime.Shard, len(rows))
	for i, row := range rows {
		id, err := row[pk].(json.Number).Int64()
		if err != nil {
			return fmt.Errorf("row ID %v: %w", row[pk], err)
		}
		olds = append(olds, id)
		switch k := row[key].(type) {
		case nil:
			return fmt.Errorf("row %d of table %s on database %s has no shard key (%s is NULL): it has no shard; give it one and run the move again", id, m.st.Table, m.st.Source, key)
		case json.Number:
			v, err := k.Int64()
			if err != nil {
				return fmt.Errorf("row %d: shard key %s = %s does not fit bigint", id, key, k)
			}
			shardOf[i] = runtime.ShardForInt64(v, n)
		case string:
			shardOf[i] = runtime.ShardForString(k, n)
		default:
			return fmt.Errorf("row %d: shard key %s is neither a bigint nor a text", id, key)
		}
	}
	mp, err := m.mapping(ctx, olds)
	if err != nil {
		return err
	}
	del := map[runtime.Shard][]int64{}
	for _, id := range gone {
		if e, ok := mp[id]; ok {
			del[runtime.Shard(e[1])] = append(del[runtime.Shard(e[1])], e[0])
		}
	}
	need := map[runtime.Shard][]int{} // rows needing a new ID, by shard
	for i, row := range rows {
		id, _ := row[pk].(json.Number).Int64()
		e, ok := mp[id]
		if ok && runtime.Shard(e[1]) == shardOf[i] {
			continue
		}
		if ok { // its key moved it to another shard: the old copy goes
			del[runtime.Shard(e[1])] = append(del[runtime.Shard(e[1])], e[0])
		}
		need[shardOf[i]] = append(need[shardOf[i]], i)
	}
	var ml, mi, ms []int64
	for s, idx := range need {
		var ids []int64
		err := m.g.At(s).WithConn(ctx, func(c *pgx.Conn, schema string) error {
			r, err := c.Query(ctx, "SELECT "+schema+".shardgen_next_id() FROM pg_catalog.generate_series(1, $1)", len(idx))
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(r, pgx.RowTo[int64])
			return err
		})
		if err != nil {
			return fmt.Errorf("minting IDs in shard %d: %w", s, err)
		}
		for j, i := range idx {
			old, _ := rows[i][pk].(json.Number).Int64()
			mp[old] = [2]int64{ids[j], int64(s)}
			ml, mi, ms = append(ml, old), append(mi, ids[j]), append(ms, int64(s))
		}
	}
	if len(ml) > 0 {
		if _, err := m.ctl.Exec(ctx, "INSERT INTO "+m.mapTable()+" (legacy_id, id, shard) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[]) ON CONFLICT (legacy_id) DO UPDATE SET id = EXCLUDED.id, shard = EXCLUDED.shard", ml, mi, ms); err != nil {
			return fmt.Errorf("writing the ID map: %w", err)
		}
		m.st.State.Mapped += int64(len(ml))
	}
	byShard := map[runtime.Shard][]map[string]any{}
	for i, row := range rows {
		old, _ := row[pk].(json.Number).Int64()
		row[pk] = mp[old][0]
		byShard[shardOf[i]] = append(byShard[shardOf[i]], row)
	}
	for s := range runtime.Shard(n) {
		if len(byShard[s]) == 0 && len(del[s]) == 0 {
			continue
		}
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(byShard[s]); err != nil {
			return err
		}
		err := m.g.At(s).WithConn(ctx, func(c *pgx.Conn, _ string) error {
			return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if len(del[s]) > 0 {
					if _, err := tx.Exec(ctx, "DELETE FROM "+m.stagedShard(s)+" WHERE "+q(pk)+" = ANY($1)", del[s]); err != nil {
						return err
					}
				}
				if len(byShard[s]) > 0 {
					_, err := tx.Exec(ctx, m.upsertInto(m.stagedShard(s)), b.String())
					return err
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("writing shard %d: %w", s, err)
		}
	}
	return nil
}

// verifyGroup compares every row of the source with its copy through the
// map: the md5 of its columns other than the ID.
func (m *mover) verifyGroup(ctx context.Context) error {
	var cols []string
	for _, c := range m.st.State.Columns {
		if c != m.st.State.PK {
			cols = append(cols, "x."+q(c))
		}
	}
	hashes := func(c *pgx.Conn, table string) (map[int64]string, error) {
		rows, err := c.Query(ctx, "SELECT x."+q(m.st.State.PK)+"::bigint, md5(ROW("+strings.Join(cols, ", ")+")::text) FROM "+table+" x")
		if err != nil {
			return nil, err
		}
		out := map[int64]string{}
		for rows.Next() {
			var id int64
			var h string
			if err := rows.Scan(&id, &h); err != nil {
				return nil, err
			}
			out[id] = h
		}
		return out, rows.Err()
	}
	src, err := hashes(m.src, m.srcTable())
	if err != nil {
		return err
	}
	dst := map[int64]string{}
	err = m.eachShard(ctx, func(s runtime.Shard, c *pgx.Conn) error {
		h, err := hashes(c, m.stagedShard(s))
		for id, v := range h {
			dst[id] = v
		}
		return err
	})
	if err != nil {
		return err
	}
	olds := make([]int64, 0, len(src))
	for id := range src {
		olds = append(olds, id)
	}
	mp, err := m.mapping(ctx, olds)
	if err != nil {
		return err
	}
	if len(src) != len(dst) {
		return fmt.Errorf("verify: database %s has %d rows of %s, group %s %d", m.st.Source, len(src), m.st.Table, m.st.Target, len(dst))
	}
	for id, h := range src {
		e, ok := mp[id]
		if !ok || dst[e[0]] != h {
			return fmt.Errorf("verify: row %d of table %s differs between database %s and group %s (new ID %d)", id, m.st.Table, m.st.Source, m.st.Target, e[0])
		}
	}
	m.st.State.Rows, m.st.State.Chunks = int64(len(src)), 0
	return m.saveState(ctx)
}

// switchedGroup reports whether every shard serves its table.
func (m *mover) switchedGroup(ctx context.Context) (bool, error) {
	done := true
	err := m.eachShard(ctx, func(s runtime.Shard, c *pgx.Conn) error {
		t, err := describe(ctx, c, m.stagedShard(s))
		if t.kind != "" {
			done = false
		}
		return err
	})
	return done, err
}

func (m *mover) switchGroup(ctx context.Context) error {
	err := m.eachShard(ctx, func(s runtime.Shard, c *pgx.Conn) error {
		t, err := describe(ctx, c, m.stagedShard(s))
		if err != nil || t.kind == "" {
			return err
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "DROP VIEW IF EXISTS "+m.liveShard(s)+"; ALTER TABLE "+m.stagedShard(s)+" SET SCHEMA "+q(m.g.Schema(s))+"; DROP SCHEMA "+q(m.stagedSchema(s))+" CASCADE")
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("switching group %s to the copied table: %w", m.st.Target, err)
	}
	m.st.State.SwitchAt = time.Now()
	return m.saveState(ctx)
}

// undoGroup puts every shard's table back, empty, and drops the map.
func (m *mover) undoGroup(ctx context.Context) error {
	err := m.eachShard(ctx, func(s runtime.Shard, c *pgx.Conn) error {
		t, err := describe(ctx, c, m.stagedShard(s))
		if err != nil {
			return err
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if t.kind != "" {
				if _, err := tx.Exec(ctx, "DROP VIEW IF EXISTS "+m.liveShard(s)+"; TRUNCATE "+m.stagedShard(s)+"; ALTER TABLE "+m.stagedShard(s)+" SET SCHEMA "+q(m.g.Schema(s))); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+q(m.stagedSchema(s))+" CASCADE")
			return err
		})
	})
	if err != nil {
		return err
	}
	_, err = m.ctl.Exec(ctx, "DROP TABLE IF EXISTS "+m.mapTable())
	return err
}

// LegacyIDs finds the new ID of a row of a table moved into a shard group
// by its old ID (links that hold old IDs keep resolving): the map on the
// default database.
type LegacyIDs struct {
	t runtime.Target
	q *runtime.Query
}

// NewLegacyIDs returns the lookup of table's map through r's default
// database (the control database of the move).
func NewLegacyIDs(r *runtime.Router, table string) (*LegacyIDs, error) {
	if !tableRE.MatchString(table) {
		return nil, fmt.Errorf("modelmove: %q is not a table name", table)
	}
	d, err := r.Database("default")
	if err != nil {
		return nil, err
	}
	return &LegacyIDs{t: d.Target(), q: d.Prepare("SELECT id FROM " + runtime.SchemaToken + "." + q(MapTable(table)) + " WHERE legacy_id = $1")}, nil
}

// Lookup returns the new ID of the row whose old ID is legacy; an ID the
// map does not hold fails with runtime.ErrNotFound.
func (l *LegacyIDs) Lookup(ctx context.Context, legacy int64) (int64, error) {
	var id int64
	err := l.t.QueryRow(ctx, l.q, legacy).Scan(&id)
	if err != nil && errors.Is(err, runtime.ErrNotFound) {
		return 0, fmt.Errorf("modelmove: no new ID for old ID %s: %w", strconv.FormatInt(legacy, 10), err)
	}
	return id, err
}
