package move

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shardgen/shardgen/runtime"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// table is one table of a moving shard.
type table struct {
	schema, name string
	oid          uint32
	cols         []string // every column, by name
	pk           []string // primary key columns, in key order
}

func (t table) qualified() string {
	return runtime.QuoteIdent(t.schema) + "." + runtime.QuoteIdent(t.name)
}

// tables lists the ordinary tables of the moving shards on conn.
func (m *mover) tables(ctx context.Context, conn *pgx.Conn) ([]table, error) {
	rows, err := conn.Query(ctx, `
SELECT n.nspname, c.relname, c.oid,
	ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attname),
	COALESCE(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_catalog.pg_attribute a
		WHERE i.indrelid = c.oid AND i.indisprimary AND a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord), '{}')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p')
ORDER BY n.nspname, c.relname`, m.schemas())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (table, error) {
		var t table
		err := row.Scan(&t.schema, &t.name, &t.oid, &t.cols, &t.pk)
		return t, err
	})
}

// killStragglers terminates the sessions an earlier, killed run of this
// move left behind on a server (a CREATE SUBSCRIPTION or a fence still
// waiting for its locks): they carry the move's application_name. It
// waits until they are gone, so nothing they do can land after this run
// looked.
func (m *mover) killStragglers(ctx context.Context, conn *pgx.Conn) error {
	return EndSessions(ctx, conn, moverName(m.st.ID))
}

func (m *mover) preflight(ctx context.Context) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, c := range []struct {
		name string
		conn *pgx.Conn
	}{{m.st.Source, m.src}, {m.st.Target, m.dst}} {
		var v int
		if err := c.conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
			return err
		}
		if v < 150000 {
			add("server %q runs PostgreSQL %d; moves need 15 or later (FOR TABLES IN SCHEMA)", c.name, v/10000)
		}
	}
	var walLevel string
	var freeSlots, freeSenders int
	if err := m.src.QueryRow(ctx, `SELECT current_setting('wal_level'),
		current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_catalog.pg_replication_slots),
		current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_catalog.pg_stat_replication)`).Scan(&walLevel, &freeSlots, &freeSenders); err != nil {
		return err
	}
	if walLevel != "logical" {
		add("source server %q has wal_level=%s; set wal_level = logical in its postgresql.conf and restart it", m.st.Source, walLevel)
	}
	if freeSlots < 3 || freeSenders < 3 {
		add("source server %q has %d free replication slots and %d free WAL senders; a move needs 3 of each (raise max_replication_slots and max_wal_senders)", m.st.Source, freeSlots, freeSenders)
	}
	var workers int
	if err := m.dst.QueryRow(ctx, "SELECT current_setting('max_logical_replication_workers')::int").Scan(&workers); err != nil {
		return err
	}
	if workers < 2 {
		add("target server %q has max_logical_replication_workers=%d; a move needs at least 2", m.st.Target, workers)
	}
	var missing []string
	if err := m.src.QueryRow(ctx, "SELECT ARRAY(SELECT s FROM unnest($1::text[]) s WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = s))", m.schemas()).Scan(&missing); err != nil {
		return err
	}
	if len(missing) > 0 {
		add("source server %q lacks schemas %s (run Migrate first)", m.st.Source, strings.Join(missing, ", "))
	}
	var present []string
	if err := m.dst.QueryRow(ctx, "SELECT ARRAY(SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = ANY($1) ORDER BY 1)", m.schemas()).Scan(&present); err != nil {
		return err
	}
	if len(present) > 0 {
		add("target server %q already has schemas %s; drop them (or finish the earlier move that left them) first", m.st.Target, strings.Join(present, ", "))
	}
	for _, s := range m.schemas() {
		if len(oldSchema(m.st.ID, s)) > 63 {
			add("schema name %s is too long to rename the old copy to %s", s, oldSchema(m.st.ID, s))
			break
		}
	}
	tables, err := m.tables(ctx, m.src)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if len(t.pk) == 0 {
			add("table %s.%s on %q has no primary key; logical replication and the verification need one", t.schema, t.name, m.st.Source)
		}
	}
	// The source must be at the Spec's migrations, so that the target,
	// created from the Spec, has the same tables.
	want := 0
	for _, mg := range m.gs.Migrations {
		want = max(want, mg.Version)
	}
	if len(missing) == 0 {
		var behind []string
		for _, s := range m.schemas() {
			var v int
			err := m.src.QueryRow(ctx, "SELECT COALESCE(max(version), -1) FROM "+runtime.QuoteIdent(s)+"."+runtime.MigrationsTable+" WHERE target = $1", m.st.Group).Scan(&v)
			if err != nil {
				return err
			}
			if v != want {
				behind = append(behind, fmt.Sprintf("%s at version %d", s, v))
			}
		}
		if len(behind) > 0 {
			add("source schemas are not at the Spec's migration version %d: %s (run Migrate with the Spec the mover uses)", want, strings.Join(behind, ", "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("preflight: %s", strings.Join(problems, "; "))
	}
	return nil
}

// createSchemas runs Migrate for the moving shards on the target (a router
// of its own, where the shards are placed on the target), empties their
// tables (the copy fills them, history included), and creates the marker
// table on both servers.
func (m *mover) createSchemas(ctx context.Context) error {
	cfg := runtime.Config{Groups: map[string][]runtime.ServerConfig{m.st.Group: m.opts.Config.Groups[m.st.Group]}, Pool: runtime.PoolConfig{MaxConns: 4}}
	spec := runtime.Spec{Groups: []runtime.GroupSpec{m.gs}}
	r, err := runtime.Open(ctx, cfg, spec)
	if err != nil {
		return err
	}
	defer r.Close()
	p := r.Placement()
	owners := p.Groups[m.st.Group]
	for s := m.st.Shards.First; s <= m.st.Shards.Last; s++ {
		owners[s] = m.st.Target
	}
	p.Version = 1
	if err := r.ApplyPlacement(p); err != nil {
		return err
	}
	first, last := m.st.Shards.First, m.st.Shards.Last
	err = runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{
		Shards: func(group string, s runtime.Shard) bool { return group == m.st.Group && s >= first && s <= last },
	})
	if err != nil {
		return fmt.Errorf("creating the schemas on %q: %w", m.st.Target, err)
	}
	tables, err := m.tables(ctx, m.dst)
	if err != nil {
		return err
	}
	if len(tables) > 0 {
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = t.qualified()
		}
		if _, err := m.dst.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
			return err
		}
	}
	for _, c := range []*pgx.Conn{m.src, m.dst} {
		if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+markerTable(m.st.ID)+" (token text PRIMARY KEY, at timestamptz NOT NULL DEFAULT pg_catalog.now())"); err != nil {
			return err
		}
	}
	return nil
}

// conninfo renders the source's connection string as the keyword=value
// string CREATE SUBSCRIPTION wants. It holds the password: never print it.
func conninfo(cs string) (string, error) {
	pc, err := pgconn.ParseConfig(cs)
	if err != nil {
		return "", errors.New("source connection string does not parse")
	}
	kv := [][2]string{{"host", pc.Host}, {"port", strconv.Itoa(int(pc.Port))}, {"dbname", pc.Database}, {"user", pc.User}}
	if pc.Password != "" {
		kv = append(kv, [2]string{"password", pc.Password})
	}
	var b strings.Builder
	for i, p := range kv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p[0])
		b.WriteString("='")
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(p[1]))
		b.WriteByte('\'')
	}
	return b.String(), nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (m *mover) startCopy(ctx context.Context) error {
	name := artifact(m.st.ID)
	var objs []string
	for _, s := range m.schemas() {
		objs = append(objs, runtime.QuoteIdent(s))
	}
	if _, err := m.src.Exec(ctx, "CREATE PUBLICATION "+name+" FOR TABLES IN SCHEMA "+strings.Join(objs, ", ")+", TABLE "+markerTable(m.st.ID)); err != nil {
		return fmt.Errorf("creating the publication on %q: %w", m.st.Source, err)
	}
	ci, err := conninfo(m.srcCS)
	if err != nil {
		return err
	}
	_, err = m.dst.Exec(ctx, "CREATE SUBSCRIPTION "+name+" CONNECTION "+quoteLiteral(ci)+" PUBLICATION "+name+
		" WITH (slot_name = "+quoteLiteral(name)+", create_slot = true, copy_data = true)")
	if err != nil {
		return fmt.Errorf("creating the subscription on %q: %w", m.st.Target, scrubErr(err, m.srcCS))
	}
	if err := m.dst.QueryRow(ctx, "SELECT oid FROM pg_catalog.pg_subscription WHERE subname = $1", name).Scan(&m.st.State.SubOID); err != nil {
		return err
	}
	return m.saveState(ctx)
}

// subErrors fails when the subscription's workers keep reporting errors
// (PostgreSQL retries a failed worker every wal_retrieve_retry_interval;
// one lost connection is not worth failing the move for).
func (m *mover) subErrors(ctx context.Context) error {
	var apply, sync int64
	err := m.dst.QueryRow(ctx, "SELECT COALESCE(sum(apply_error_count), 0), COALESCE(sum(sync_error_count), 0) FROM pg_catalog.pg_stat_subscription_stats WHERE subname = $1", artifact(m.st.ID)).Scan(&apply, &sync)
	if err != nil {
		return err
	}
	if m.subErrBase < 0 {
		m.subErrBase = apply + sync
	}
	if apply+sync-m.subErrBase >= 3 {
		return fmt.Errorf("the subscription on %q reports %d apply and %d copy errors (see that server's log)", m.st.Target, apply, sync)
	}
	return nil
}

func (m *mover) catchup(ctx context.Context) error {
	name := artifact(m.st.ID)
	deadline := time.Now().Add(m.opts.Timeout)
	var srcBytes int64
	if err := m.src.QueryRow(ctx, `SELECT COALESCE(sum(pg_catalog.pg_total_relation_size(c.oid)), 0)::bigint FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) AND c.relkind = 'r'`, m.schemas()).Scan(&srcBytes); err != nil {
		return err
	}
	copyStart := time.Now()
	lastReport := time.Time{}
	for {
		var p Progress
		var notReady int
		err := m.dst.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE sr.srsubstate <> 'r') FROM pg_catalog.pg_subscription_rel sr
			JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = $1`, name).Scan(&p.Tables, &notReady)
		if err != nil {
			return err
		}
		p.TablesReady = p.Tables - notReady
		if err := m.dst.QueryRow(ctx, `SELECT COALESCE(sum(s.n_live_tup), 0)::bigint, COALESCE(sum(pg_catalog.pg_total_relation_size(s.relid)), 0)::bigint
			FROM pg_catalog.pg_stat_user_tables s WHERE s.schemaname = ANY($1)`, m.schemas()).Scan(&p.Rows, &p.Bytes); err != nil {
			return err
		}
		err = m.src.QueryRow(ctx, `SELECT COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), -1)::bigint
			FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, name).Scan(&p.LagBytes)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("the replication slot %s is missing on %q", name, m.st.Source)
		}
		if err != nil {
			return err
		}
		if p.Bytes > 0 && srcBytes > p.Bytes {
			el := time.Since(copyStart)
			p.ETA = time.Duration(float64(el) * float64(srcBytes-p.Bytes) / float64(p.Bytes))
		}
		if err := m.subErrors(ctx); err != nil {
			return err
		}
		ready := p.Tables > 0 && notReady == 0 && p.LagBytes >= 0 && p.LagBytes <= m.opts.CatchupLag
		if ready || time.Since(lastReport) > time.Second {
			m.progress(p)
			lastReport = time.Now()
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the copy did not catch up within %s (%d of %d tables copied, lag %d bytes)", m.opts.Timeout, p.TablesReady, p.Tables, p.LagBytes)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fenceSQL creates (or re-creates) the fence on every table.
func (m *mover) fenceSQL(tables []table) string {
	var b strings.Builder
	for _, s := range m.schemas() {
		fmt.Fprintf(&b, `CREATE OR REPLACE FUNCTION %s.shardgen_fence() RETURNS trigger LANGUAGE plpgsql AS $shardgen$
BEGIN
	RAISE EXCEPTION USING ERRCODE = %s, MESSAGE = %s, HINT = 'reload the shard placement and retry on the new server';
END
$shardgen$;
`, runtime.QuoteIdent(s), quoteLiteral(runtime.FenceSQLState),
			quoteLiteral(fmt.Sprintf("shardgen: logical shard %s is moving from server %s to server %s (move %d); writes here are fenced", s, m.st.Source, m.st.Target, m.st.ID)))
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s ON %s;\n", fenceTrigger(), t.qualified())
		fmt.Fprintf(&b, "CREATE TRIGGER %s BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s.shardgen_fence();\n",
			fenceTrigger(), t.qualified(), runtime.QuoteIdent(t.schema))
	}
	return b.String()
}

// fence creates the fence in one transaction on the source. Taking the
// triggers' table locks waits for every in-flight writer of those tables;
// each attempt is bounded by FenceLockTimeout (writers queued behind the
// attempt wait at most that long); after FenceAttempts failed attempts the
// sessions holding the locks are terminated.
func (m *mover) fence(ctx context.Context) error {
	tables, err := m.tables(ctx, m.src)
	if err != nil {
		return err
	}
	sql := m.fenceSQL(tables)
	oids := make([]uint32, len(tables))
	for i, t := range tables {
		oids[i] = t.oid
	}
	if err := LockedDDL(ctx, m.src, sql, oids, m.opts.FenceLockTimeout, m.opts.FenceAttempts, m.logf); err != nil {
		return fmt.Errorf("creating the fence on %q: %w", m.st.Source, err)
	}
	m.st.State.FencedAt = time.Now()
	m.progress(Progress{PauseStart: m.st.State.FencedAt})
	return m.saveState(ctx)
}

// dropFence removes the fence from the source (abort).
func (m *mover) dropFence(ctx context.Context) error {
	tables, err := m.tables(ctx, m.src)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s ON %s;\n", fenceTrigger(), t.qualified())
	}
	for _, s := range m.schemas() {
		fmt.Fprintf(&b, "DROP FUNCTION IF EXISTS %s.shardgen_fence();\n", runtime.QuoteIdent(s))
	}
	_, err = m.src.Exec(ctx, b.String())
	return err
}

// verify waits for a marker written after the fence to reach the target,
// then compares every table's rows chunk by chunk.
func (m *mover) verify(ctx context.Context) error {
	if m.st.State.Token == "" {
		m.st.State.Token = randomToken()
		if err := m.saveState(ctx); err != nil {
			return err
		}
	}
	if _, err := m.src.Exec(ctx, "INSERT INTO "+markerTable(m.st.ID)+" (token) VALUES ($1) ON CONFLICT DO NOTHING", m.st.State.Token); err != nil {
		return err
	}
	deadline := time.Now().Add(m.opts.Timeout)
	for {
		var seen bool
		if err := m.dst.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+markerTable(m.st.ID)+" WHERE token = $1)", m.st.State.Token).Scan(&seen); err != nil {
			return err
		}
		if seen {
			break
		}
		if err := m.subErrors(ctx); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the marker written after the fence did not reach %q within %s", m.st.Target, m.opts.Timeout)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	srcT, err := m.tables(ctx, m.src)
	if err != nil {
		return err
	}
	dstT, err := m.tables(ctx, m.dst)
	if err != nil {
		return err
	}
	names := func(ts []table) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.schema+"."+t.name+"("+strings.Join(t.cols, ",")+")")
		}
		return out
	}
	if !slices.Equal(names(srcT), names(dstT)) {
		return fmt.Errorf("verify: the tables differ: source %s has %v, target %s has %v", m.st.Source, names(srcT), m.st.Target, names(dstT))
	}
	m.st.State.Verified, m.st.State.Rows = nil, 0
	for _, t := range srcT {
		a, err := Checksums(ctx, m.src, t.schema, t.name, t.cols, t.pk, m.opts.VerifyChunk)
		if err != nil {
			return err
		}
		b, err := Checksums(ctx, m.dst, t.schema, t.name, t.cols, t.pk, m.opts.VerifyChunk)
		if err != nil {
			return err
		}
		var rows int64
		for _, c := range a {
			rows += c.Rows
		}
		if i := FirstDiff(a, b); i >= 0 {
			return fmt.Errorf("verify: table %s differs between %s and %s from chunk %d (%d rows each; source has %d chunks, target %d)",
				t.qualified(), m.st.Source, m.st.Target, i, m.opts.VerifyChunk, len(a), len(b))
		}
		m.st.State.Rows += rows
		m.st.State.Verified = append(m.st.State.Verified, fmt.Sprintf("%s.%s: %d rows, %d chunks", t.schema, t.name, rows, len(a)))
	}
	m.logf("shardgen move: verified", "tables", len(srcT), "rows", m.st.State.Rows)
	return m.saveState(ctx)
}

// carryIDs sets every moving shard's ID sequence on the target to at least
// the source's, so the target's next ID is above every ID the source
// minted (the fence stops minting on the source: inserts fail before
// their defaults are evaluated).
func (m *mover) carryIDs(ctx context.Context) error {
	if m.st.State.Sequences == nil {
		m.st.State.Sequences = map[string]int64{}
	}
	for _, s := range m.schemas() {
		seq := runtime.QuoteIdent(s) + "." + runtime.IDSequenceName
		var exists bool
		if err := m.src.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1) IS NOT NULL", seq).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			continue
		}
		var v int64
		if err := m.src.QueryRow(ctx, "SELECT last_value FROM "+seq).Scan(&v); err != nil {
			return err
		}
		if _, err := m.dst.Exec(ctx, "SELECT pg_catalog.setval($1::regclass, GREATEST($2::bigint, (SELECT last_value FROM "+seq+")), true)", seq, v); err != nil {
			return fmt.Errorf("carrying the ID sequence of %s to %q: %w", s, m.st.Target, err)
		}
		m.st.State.Sequences[s] = v
	}
	return m.saveState(ctx)
}

// teardown drops what the move created for copying: subscription, slots,
// publication, marker tables; with full (abort, or a restart before the
// fence) also the fence and the target's schemas. Every step is
// idempotent.
func (m *mover) teardown(ctx context.Context, full bool) error {
	for _, c := range []*pgx.Conn{m.src, m.dst} {
		if err := m.killStragglers(ctx, c); err != nil {
			return err
		}
	}
	name := artifact(m.st.ID)
	var subOID uint32
	err := m.dst.QueryRow(ctx, "SELECT oid FROM pg_catalog.pg_subscription WHERE subname = $1", name).Scan(&subOID)
	switch {
	case err == nil:
		for _, q := range []string{"ALTER SUBSCRIPTION " + name + " DISABLE", "ALTER SUBSCRIPTION " + name + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + name} {
			if _, err := m.dst.Exec(ctx, q); err != nil {
				return fmt.Errorf("dropping the subscription on %q: %w", m.st.Target, err)
			}
		}
	case errors.Is(err, pgx.ErrNoRows):
		subOID = m.st.State.SubOID
	default:
		return err
	}
	// The slot, and any table-copy slots, on the source. A walsender may
	// still hold one for a moment after the subscription went.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left int
		err := m.src.QueryRow(ctx, `SELECT count(*) FROM (
			SELECT CASE WHEN active_pid IS NOT NULL THEN pg_catalog.pg_terminate_backend(active_pid) ELSE pg_catalog.pg_drop_replication_slot(slot_name) IS NULL END
			FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 OR ($2 <> 0 AND slot_name LIKE 'pg\_' || $2 || '\_sync\_%')) x`, name, int64(subOID)).Scan(&left)
		if err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || (pgErr.Code != "55006" && pgErr.Code != "42704") { // in use / vanished meanwhile
				return fmt.Errorf("dropping the replication slot on %q: %w", m.st.Source, err)
			}
			left = 1
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the replication slot %s on %q stays in use", name, m.st.Source)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	if _, err := m.src.Exec(ctx, "DROP PUBLICATION IF EXISTS "+name); err != nil {
		return err
	}
	for _, c := range []*pgx.Conn{m.src, m.dst} {
		if _, err := c.Exec(ctx, "DROP TABLE IF EXISTS "+markerTable(m.st.ID)); err != nil {
			return err
		}
	}
	if !full {
		return nil
	}
	if err := m.dropFence(ctx); err != nil {
		return err
	}
	if before(m.st.Phase, PhaseSchemas) {
		return nil // the target's schemas, if any, are not the move's
	}
	for _, s := range m.schemas() {
		if _, err := m.dst.Exec(ctx, "DROP SCHEMA IF EXISTS "+runtime.QuoteIdent(s)+" CASCADE"); err != nil {
			return err
		}
	}
	return nil
}

// retireSource renames the source's copy of the shards away, in one
// transaction per shard that also re-creates the fence on the renamed
// tables: that invalidates every plan cached on the source, so a process
// that still routes there fails (schema or table missing) instead of
// reading the frozen copy through a prepared statement, reloads the
// placement and is sent to the target.
func (m *mover) retireSource(ctx context.Context) error {
	for _, s := range m.schemas() {
		var exists bool
		if err := m.src.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", s).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			continue
		}
		old := oldSchema(m.st.ID, s)
		err := pgx.BeginFunc(ctx, m.src, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "ALTER SCHEMA "+runtime.QuoteIdent(s)+" RENAME TO "+runtime.QuoteIdent(old)); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')", old)
			if err != nil {
				return err
			}
			names, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			var b strings.Builder
			for _, n := range names {
				t := runtime.QuoteIdent(old) + "." + runtime.QuoteIdent(n)
				fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s ON %s;\n", fenceTrigger(), t)
				fmt.Fprintf(&b, "CREATE TRIGGER %s BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s.shardgen_fence();\n",
					fenceTrigger(), t, runtime.QuoteIdent(old))
			}
			_, err = tx.Exec(ctx, b.String())
			return err
		})
		if err != nil {
			return fmt.Errorf("retiring %s on %q: %w", s, m.st.Source, err)
		}
	}
	return nil
}
