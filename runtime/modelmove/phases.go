package modelmove

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
)

func q(s string) string { return runtime.QuoteIdent(s) }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// srcTable is the table on the source; dstTable where it is on the target
// (staged in the move's schema until the switch).
func (m *mover) srcTable() string { return "public." + q(m.st.Table) }
func (m *mover) stagedTable() string {
	return q(workSchema(m.st.ID)) + "." + q(m.st.Table)
}

// tableInfo is what the catalog says of a table.
type tableInfo struct {
	oid     uint32
	kind    string            // relkind: r table, v view; "" missing
	cols    map[string]string // column -> type
	notNull map[string]bool   // NOT NULL columns without a default
	pk      []string
}

func describe(ctx context.Context, c *pgx.Conn, qualified string) (tableInfo, error) {
	ti := tableInfo{cols: map[string]string{}, notNull: map[string]bool{}}
	var oid *uint32
	if err := c.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1)::oid", qualified).Scan(&oid); err != nil {
		return ti, err
	}
	if oid == nil {
		return ti, nil
	}
	ti.oid = *oid
	if err := c.QueryRow(ctx, "SELECT relkind::text FROM pg_catalog.pg_class WHERE oid = $1", ti.oid).Scan(&ti.kind); err != nil {
		return ti, err
	}
	rows, err := c.Query(ctx, `SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull AND NOT a.atthasdef AND a.attidentity = ''
		FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, ti.oid)
	if err != nil {
		return ti, err
	}
	for rows.Next() {
		var name, typ string
		var nn bool
		if err := rows.Scan(&name, &typ, &nn); err != nil {
			return ti, err
		}
		ti.cols[name], ti.notNull[name] = typ, nn
	}
	if err := rows.Err(); err != nil {
		return ti, err
	}
	rows, err = c.Query(ctx, `SELECT a.attname::text FROM pg_catalog.pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_catalog.pg_attribute a
		WHERE i.indrelid = $1 AND i.indisprimary AND a.attrelid = $1 AND a.attnum = k.attnum ORDER BY k.ord`, ti.oid)
	if err != nil {
		return ti, err
	}
	ti.pk, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return ti, err
}

func (m *mover) preflight(ctx context.Context) error {
	src, err := describe(ctx, m.src, m.srcTable())
	if err != nil {
		return err
	}
	switch {
	case src.kind == "":
		return fmt.Errorf("database %s has no table %s", m.st.Source, m.srcTable())
	case src.kind != "r":
		return fmt.Errorf("%s on database %s is not an ordinary table", m.srcTable(), m.st.Source)
	case len(src.pk) != 1:
		return fmt.Errorf("table %s on database %s has a primary key of %d columns; a model move needs one (the model's ID)", m.srcTable(), m.st.Source, len(src.pk))
	}
	switch src.cols[src.pk[0]] {
	case "bigint", "integer", "smallint":
	default:
		return fmt.Errorf("the primary key %s of table %s is of type %s; a model move needs an integer ID", src.pk[0], m.srcTable(), src.cols[src.pk[0]])
	}
	if m.st.Phase == PhasePreflight {
		var fenced bool
		if err := m.src.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2)", src.oid, fenceTrigger).Scan(&fenced); err != nil {
			return err
		}
		if fenced {
			return fmt.Errorf("table %s on database %s is the fenced old copy of an earlier move; finish that move first (it drops the old table)", m.st.Table, m.st.Source)
		}
	}
	if m.intoGroup() {
		return m.preflightGroup(ctx, src)
	}
	dst, err := describe(ctx, m.dst, "public."+q(m.st.Table))
	if err != nil {
		return err
	}
	switch dst.kind {
	case "":
	case "r":
		var rows bool
		if err := m.dst.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM public."+q(m.st.Table)+")").Scan(&rows); err != nil {
			return err
		}
		if rows {
			var old int64
			err := m.ctl.QueryRow(ctx, "SELECT COALESCE(max(id), 0) FROM public.shardgen_model_moves WHERE tbl = $1 AND source = $2 AND phase = $3", m.st.Table, m.st.Target, PhaseDone).Scan(&old)
			if err != nil {
				return err
			}
			if old > 0 {
				return fmt.Errorf("database %s still has the old, read-only table %s of move %d; finish that move first (-finish %d drops it)", m.st.Target, m.st.Table, old, old)
			}
			return fmt.Errorf("database %s already has rows in table %s; a move copies into an empty table", m.st.Target, m.st.Table)
		}
	default:
		if m.st.Phase == PhasePreflight {
			return fmt.Errorf("%s on database %s is not a table (the placeholder of another move?)", m.st.Table, m.st.Target)
		}
	}
	return nil
}

// capture installs the log and the row trigger on the source. Creating the
// triggers waits for the writers in flight, so every write committed after
// it is logged.
func (m *mover) capture(ctx context.Context) error {
	src, err := describe(ctx, m.src, m.srcTable())
	if err != nil {
		return err
	}
	pk := src.pk[0]
	ws := q(workSchema(m.st.ID))
	sql := fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.log (seq bigserial PRIMARY KEY, pk %[2]s NOT NULL);
CREATE OR REPLACE FUNCTION %[1]s.capture() RETURNS trigger LANGUAGE plpgsql AS $shardgen$
BEGIN
	IF TG_OP <> 'INSERT' THEN INSERT INTO %[1]s.log (pk) VALUES (OLD.%[3]s); END IF;
	IF TG_OP <> 'DELETE' THEN INSERT INTO %[1]s.log (pk) VALUES (NEW.%[3]s); END IF;
	RETURN NULL;
END
$shardgen$;
CREATE OR REPLACE FUNCTION %[1]s.no_truncate() RETURNS trigger LANGUAGE plpgsql AS $shardgen$
BEGIN
	RAISE EXCEPTION 'shardgen: table %%.%% is being moved to database %[5]s (model move %[6]d): TRUNCATE is refused until the move ends', TG_TABLE_SCHEMA, TG_TABLE_NAME;
END
$shardgen$;
DROP TRIGGER IF EXISTS %[7]s ON %[4]s;
CREATE TRIGGER %[7]s AFTER INSERT OR UPDATE OR DELETE ON %[4]s FOR EACH ROW EXECUTE FUNCTION %[1]s.capture();
DROP TRIGGER IF EXISTS %[8]s ON %[4]s;
CREATE TRIGGER %[8]s BEFORE TRUNCATE ON %[4]s FOR EACH STATEMENT EXECUTE FUNCTION %[1]s.no_truncate();
`, ws, src.cols[pk], q(pk), m.srcTable(), m.st.Target, m.st.ID, captureTrigger, truncateTrigger)
	if err := move.LockedDDL(ctx, m.src, sql, []uint32{src.oid}, m.opts.FenceLockTimeout, m.opts.FenceAttempts, m.logf); err != nil {
		return fmt.Errorf("installing the capture trigger on %s: %w", m.st.Source, err)
	}
	return nil
}

// staging creates the table on the target (Migrate, with the new Spec),
// sets it aside in the move's schema and puts a failing view in its place.
func (m *mover) staging(ctx context.Context) error {
	if m.intoGroup() {
		return m.stagingGroup(ctx)
	}
	ws := q(workSchema(m.st.ID))
	staged, err := describe(ctx, m.dst, m.stagedTable())
	if err != nil {
		return err
	}
	if staged.kind == "" {
		var dbs runtime.DatabaseSpec
		for _, d := range m.opts.Spec.Databases {
			if d.Name == m.st.Target {
				dbs = d
			}
		}
		cfg := runtime.Config{Databases: map[string]string{m.st.Target: m.dstCS}, Pool: runtime.PoolConfig{MaxConns: 2}}
		spec := runtime.Spec{Databases: []runtime.DatabaseSpec{dbs}}
		r, err := runtime.Open(ctx, cfg, spec)
		if err != nil {
			return err
		}
		err = runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{})
		r.Close()
		if err != nil {
			return fmt.Errorf("creating the table on database %s: %w", m.st.Target, err)
		}
		// Migrate skips a declarative migration it applied before, even
		// when the table is gone since (an earlier move finished away from
		// this database); declarative SQL may be run again at any time.
		if t, err := describe(ctx, m.dst, "public."+q(m.st.Table)); err != nil {
			return err
		} else if t.kind == "" {
			for _, mg := range dbs.Migrations {
				if !mg.Declarative {
					continue
				}
				if _, err := m.dst.Exec(ctx, strings.ReplaceAll(mg.SQL, runtime.SchemaToken, `"public"`)); err != nil {
					return fmt.Errorf("creating the table on database %s (migration %d): %w", m.st.Target, mg.Version, err)
				}
			}
		}
		if err := m.stageTable(ctx, m.dst, "public."+q(m.st.Table), ws, m.stagedTable(), "public"); err != nil {
			return fmt.Errorf("staging the table on database %s: %w", m.st.Target, err)
		}
		if staged, err = describe(ctx, m.dst, m.stagedTable()); err != nil {
			return err
		}
	}
	return m.columns(ctx, staged)
}

// columns records the columns both tables have; the target's NOT NULL
// columns without a default must be among them.
func (m *mover) columns(ctx context.Context, staged tableInfo) error {
	src, err := describe(ctx, m.src, m.srcTable())
	if err != nil {
		return err
	}
	var cols, missing []string
	for c := range src.cols {
		if _, ok := staged.cols[c]; ok {
			cols = append(cols, c)
		}
	}
	for c, nn := range staged.notNull {
		if _, ok := src.cols[c]; nn && !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("table %s on database %s has NOT NULL columns without a default that the source lacks: %s", m.st.Table, m.st.Target, strings.Join(missing, ", "))
	}
	slices.Sort(cols)
	m.st.State.Columns, m.st.State.PK = cols, src.pk[0]
	return m.saveState(ctx)
}

// stageTable sets live (a table Migrate created, empty) aside in schema
// ws as staged, and puts a view raising the fence's SQLSTATE on every
// statement in its place, in liveSchema, in one transaction on c.
func (m *mover) stageTable(ctx context.Context, c *pgx.Conn, live, ws, staged, liveSchema string) error {
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE "+live+" IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
		var rows bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+live+")").Scan(&rows); err != nil {
			return err
		}
		if rows {
			return fmt.Errorf("%s on %s has rows (written by a version deployed before the move?)", live, m.st.Target)
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ws+"; ALTER TABLE "+live+" SET SCHEMA "+ws)
		if err != nil {
			return err
		}
		msg := quoteLiteral(fmt.Sprintf("shardgen: table %s is being moved from database %s to database %s (model move %d); it serves once the move has switched", m.st.Table, m.st.Source, m.st.Target, m.st.ID))
		_, err = tx.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION %[1]s.moving() RETURNS SETOF %[2]s LANGUAGE plpgsql AS $shardgen$
BEGIN
	RAISE EXCEPTION USING ERRCODE = %[3]s, MESSAGE = %[4]s, HINT = 'wait until the move says done';
END
$shardgen$;
CREATE FUNCTION %[1]s.moving_row() RETURNS trigger LANGUAGE plpgsql AS $shardgen$
BEGIN
	RAISE EXCEPTION USING ERRCODE = %[3]s, MESSAGE = %[4]s, HINT = 'wait until the move says done';
END
$shardgen$;
CREATE VIEW %[6]s.%[5]s AS SELECT * FROM %[1]s.moving();
CREATE TRIGGER shardgen_moving INSTEAD OF INSERT OR UPDATE OR DELETE ON %[6]s.%[5]s FOR EACH ROW EXECUTE FUNCTION %[1]s.moving_row();
`, ws, staged, quoteLiteral(runtime.FenceSQLState), msg, q(m.st.Table), liveSchema))
		return err
	})
}

func (m *mover) colList(prefix string) string {
	out := make([]string, len(m.st.State.Columns))
	for i, c := range m.st.State.Columns {
		out[i] = prefix + q(c)
	}
	return strings.Join(out, ", ")
}

// upsertSQL writes the rows of a JSON array into the staged table.
func (m *mover) upsertSQL() string { return m.upsertInto(m.stagedTable()) }

// upsertInto writes the rows of a JSON array into table.
func (m *mover) upsertInto(table string) string {
	var set []string
	for _, c := range m.st.State.Columns {
		if c != m.st.State.PK {
			set = append(set, q(c)+" = EXCLUDED."+q(c))
		}
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM pg_catalog.json_populate_recordset(NULL::%s, $1::json) ON CONFLICT (%s) %s",
		table, m.colList(""), m.colList(""), table, q(m.st.State.PK), conflict)
}

// copyRows copies the source's rows in primary-key chunks, resuming after
// the recorded cursor.
func (m *mover) copyRows(ctx context.Context) error {
	st := &m.st.State
	if st.CopyStart.IsZero() {
		st.CopyStart = time.Now()
	}
	var total int64
	if err := m.src.QueryRow(ctx, "SELECT GREATEST(reltuples, 0)::bigint FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass($1)", m.srcTable()).Scan(&total); err != nil {
		return err
	}
	pk := q(st.PK)
	read := fmt.Sprintf("SELECT COALESCE(json_agg(x ORDER BY x.%[1]s), '[]')::text, count(*), max(x.%[1]s)::bigint FROM (SELECT %[2]s FROM %[3]s WHERE $1::bigint IS NULL OR %[1]s > $1 ORDER BY %[1]s LIMIT $2) x",
		pk, m.colList(""), m.srcTable())
	upsert := m.upsertSQL()
	last := time.Now()
	for {
		var rows string
		var n int64
		var maxPK *int64
		if err := m.src.QueryRow(ctx, read, st.Cursor, m.opts.CopyChunk).Scan(&rows, &n, &maxPK); err != nil {
			return fmt.Errorf("reading %s on database %s: %w", m.st.Table, m.st.Source, err)
		}
		if n == 0 {
			break
		}
		if m.intoGroup() {
			if err := m.applyGroup(ctx, rows, nil); err != nil {
				return fmt.Errorf("writing %s in group %s: %w", m.st.Table, m.st.Target, err)
			}
		} else if _, err := m.dst.Exec(ctx, upsert, rows); err != nil {
			return fmt.Errorf("writing %s on database %s: %w", m.st.Table, m.st.Target, err)
		}
		st.Cursor, st.Copied = maxPK, st.Copied+n
		if err := m.saveState(ctx); err != nil {
			return err
		}
		if time.Since(last) > time.Second {
			m.progress(Progress{Rows: st.Copied, Total: total})
			last = time.Now()
		}
	}
	st.CopyEnd = time.Now()
	m.progress(Progress{Rows: st.Copied, Total: total})
	return m.saveState(ctx)
}

// drain copies the rows of up to limit logged keys again (as they are now
// on the source, or deleted) and removes those log entries. A write that
// commits meanwhile has its own entry, left for the next round.
func (m *mover) drain(ctx context.Context, limit int) (int, error) {
	ws := q(workSchema(m.st.ID))
	var seqs, pks []int64
	if err := m.src.QueryRow(ctx, "SELECT COALESCE(array_agg(seq), '{}'), COALESCE(array_agg(DISTINCT pk), '{}')::bigint[] FROM (SELECT seq, pk FROM "+ws+".log ORDER BY seq LIMIT $1) l", limit).Scan(&seqs, &pks); err != nil {
		return 0, err
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	pk := q(m.st.State.PK)
	var rows string
	var present []int64
	err := m.src.QueryRow(ctx, fmt.Sprintf("SELECT COALESCE(json_agg(x), '[]')::text, COALESCE(array_agg(x.%[1]s), '{}')::bigint[] FROM (SELECT %[2]s FROM %[3]s WHERE %[1]s = ANY($1)) x",
		pk, m.colList(""), m.srcTable()), pks).Scan(&rows, &present)
	if err != nil {
		return 0, err
	}
	if m.intoGroup() {
		var gone []int64
		for _, id := range pks {
			if !slices.Contains(present, id) {
				gone = append(gone, id)
			}
		}
		err = m.applyGroup(ctx, rows, gone)
	} else {
		err = m.drainDB(ctx, rows, pks, present)
	}
	if err != nil {
		return 0, fmt.Errorf("copying logged rows to %s: %w", m.st.Target, err)
	}
	if _, err := m.src.Exec(ctx, "DELETE FROM "+ws+".log WHERE seq = ANY($1)", seqs); err != nil {
		return 0, err
	}
	m.st.State.Resynced += int64(len(pks))
	return len(seqs), nil
}

func (m *mover) drainDB(ctx context.Context, rows string, pks, present []int64) error {
	pk := q(m.st.State.PK)
	return pgx.BeginFunc(ctx, m.dst, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, m.upsertSQL(), rows); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM "+m.stagedTable()+" WHERE "+pk+" = ANY($1) AND NOT ("+pk+" = ANY($2))", pks, present)
		return err
	})
}

func (m *mover) logLen(ctx context.Context) (int64, error) {
	var n int64
	err := m.src.QueryRow(ctx, "SELECT count(*) FROM "+q(workSchema(m.st.ID))+".log").Scan(&n)
	return n, err
}

// catchup drains the log until it is shorter than CatchupRows.
func (m *mover) catchup(ctx context.Context) error {
	deadline := time.Now().Add(m.opts.Timeout)
	last := time.Time{}
	for {
		if _, err := m.drain(ctx, m.opts.CopyChunk); err != nil {
			return err
		}
		n, err := m.logLen(ctx)
		if err != nil {
			return err
		}
		if n < int64(m.opts.CatchupRows) {
			m.progress(Progress{Rows: m.st.State.Copied, Log: n})
			return m.saveState(ctx)
		}
		if time.Since(last) > time.Second {
			m.progress(Progress{Rows: m.st.State.Copied, Log: n})
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the copy did not catch up within %s (%d keys logged)", m.opts.Timeout, n)
		}
	}
}

// fence makes the source table read-only: a statement trigger raising the
// fence's SQLSTATE on every write.
func (m *mover) fence(ctx context.Context) error {
	src, err := describe(ctx, m.src, m.srcTable())
	if err != nil {
		return err
	}
	msg := quoteLiteral(fmt.Sprintf("shardgen: table %s moved from database %s to database %s (model move %d); writes here are fenced", m.st.Table, m.st.Source, m.st.Target, m.st.ID))
	sql := fmt.Sprintf(`CREATE OR REPLACE FUNCTION %[1]s() RETURNS trigger LANGUAGE plpgsql AS $shardgen$
BEGIN
	RAISE EXCEPTION USING ERRCODE = %[2]s, MESSAGE = %[3]s, HINT = %[4]s;
END
$shardgen$;
DROP TRIGGER IF EXISTS %[5]s ON %[6]s;
CREATE TRIGGER %[5]s BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %[6]s FOR EACH STATEMENT EXECUTE FUNCTION %[1]s();
`, fenceFunc(m.st.ID), quoteLiteral(runtime.FenceSQLState), msg, quoteLiteral("deploy the version that places the model on database "+m.st.Target), fenceTrigger, m.srcTable())
	if err := move.LockedDDL(ctx, m.src, sql, []uint32{src.oid}, m.opts.FenceLockTimeout, m.opts.FenceAttempts, m.logf); err != nil {
		return fmt.Errorf("creating the fence on database %s: %w", m.st.Source, err)
	}
	if m.st.State.FencedAt.IsZero() {
		m.st.State.FencedAt = time.Now()
	}
	return m.saveState(ctx)
}

// verify drains the log to empty (nothing is written after the fence) and
// compares both tables chunk by chunk.
func (m *mover) verify(ctx context.Context) error {
	for {
		n, err := m.drain(ctx, m.opts.CopyChunk)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	if m.intoGroup() {
		return m.verifyGroup(ctx)
	}
	pk := []string{m.st.State.PK}
	// Both sides at once: the writers wait for this.
	var b []move.Chunk
	var berr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		b, berr = move.Checksums(ctx, m.dst, workSchema(m.st.ID), m.st.Table, m.st.State.Columns, pk, m.opts.VerifyChunk)
	}()
	a, err := move.Checksums(ctx, m.src, "public", m.st.Table, m.st.State.Columns, pk, m.opts.VerifyChunk)
	<-done
	if err != nil {
		return err
	}
	if berr != nil {
		return berr
	}
	if i := move.FirstDiff(a, b); i >= 0 {
		return fmt.Errorf("verify: table %s differs between databases %s and %s from chunk %d (%d rows each; %d and %d chunks)",
			m.st.Table, m.st.Source, m.st.Target, i, m.opts.VerifyChunk, len(a), len(b))
	}
	m.st.State.Rows, m.st.State.Chunks = 0, len(a)
	for _, c := range a {
		m.st.State.Rows += c.Rows
	}
	m.logf("shardgen model move: verified", "rows", m.st.State.Rows, "chunks", len(a))
	return m.saveState(ctx)
}

// switched reports whether the target serves the table (the switch
// happened).
func (m *mover) switched(ctx context.Context) (bool, error) {
	if m.intoGroup() {
		return m.switchedGroup(ctx)
	}
	staged, err := describe(ctx, m.dst, m.stagedTable())
	if err != nil {
		return false, err
	}
	if staged.kind != "" {
		return false, nil
	}
	public, err := describe(ctx, m.dst, "public."+q(m.st.Table))
	return public.kind == "r", err
}

// switchTarget puts the staged table in place of the view on the target,
// in one transaction, with its ID sequence above every ID the source
// minted.
func (m *mover) switchTarget(ctx context.Context) error {
	if m.intoGroup() {
		return m.switchGroup(ctx)
	}
	done, err := m.switched(ctx)
	if err != nil || done {
		return err
	}
	var srcNext int64
	var seq *string
	if err := m.src.QueryRow(ctx, "SELECT pg_catalog.pg_get_serial_sequence($1, $2)", m.srcTable(), m.st.State.PK).Scan(&seq); err != nil {
		return err
	}
	if seq != nil {
		if err := m.src.QueryRow(ctx, "SELECT last_value FROM "+*seq).Scan(&srcNext); err != nil {
			return err
		}
	}
	pk := q(m.st.State.PK)
	err = pgx.BeginFunc(ctx, m.dst, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP VIEW IF EXISTS public."+q(m.st.Table)+"; ALTER TABLE "+m.stagedTable()+" SET SCHEMA public; DROP SCHEMA "+q(workSchema(m.st.ID))+" CASCADE"); err != nil {
			return err
		}
		var dseq *string
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_get_serial_sequence($1, $2)", "public."+q(m.st.Table), m.st.State.PK).Scan(&dseq); err != nil {
			return err
		}
		if dseq == nil {
			return nil
		}
		return tx.QueryRow(ctx, "SELECT pg_catalog.setval($1::regclass, GREATEST($2::bigint, (SELECT COALESCE(max("+pk+"), 0) FROM public."+q(m.st.Table)+"), 1))", *dseq, srcNext).Scan(&m.st.State.NextID)
	})
	if err != nil {
		return fmt.Errorf("switching database %s to the copied table: %w", m.st.Target, err)
	}
	m.st.State.SwitchAt = time.Now()
	m.logf("shardgen model move: switched", "pause", m.st.State.Pause())
	return m.saveState(ctx)
}

// cleanup drops the capture trigger and the log from the source; the fence
// stays on the old table until Finish.
func (m *mover) cleanup(ctx context.Context) error {
	_, err := m.src.Exec(ctx, "DROP TRIGGER IF EXISTS "+captureTrigger+" ON "+m.srcTable()+"; DROP TRIGGER IF EXISTS "+truncateTrigger+" ON "+m.srcTable()+
		"; DROP SCHEMA IF EXISTS "+q(workSchema(m.st.ID))+" CASCADE")
	return err
}

// undo removes everything a move that has not switched may have made: the
// fence, the capture trigger and the log on the source; the view and the
// staged table on the target, which goes back, empty, where Migrate made
// it.
func (m *mover) undo(ctx context.Context) error {
	if err := m.cleanup(ctx); err != nil {
		return err
	}
	if _, err := m.src.Exec(ctx, "DROP TRIGGER IF EXISTS "+fenceTrigger+" ON "+m.srcTable()+"; DROP FUNCTION IF EXISTS "+fenceFunc(m.st.ID)+"()"); err != nil {
		return err
	}
	if m.intoGroup() {
		return m.undoGroup(ctx)
	}
	staged, err := describe(ctx, m.dst, m.stagedTable())
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, m.dst, func(tx pgx.Tx) error {
		if staged.kind != "" {
			if _, err := tx.Exec(ctx, "DROP VIEW IF EXISTS public."+q(m.st.Table)+"; TRUNCATE "+m.stagedTable()+"; ALTER TABLE "+m.stagedTable()+" SET SCHEMA public"); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+q(workSchema(m.st.ID))+" CASCADE")
		return err
	})
}
