package modelmove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
)

// Run moves req.Table to database req.To and carries the move to
// PhaseDone. Bad input (a move the Spec does not describe, a database
// without a URL, a table the target already has rows in) is refused before
// anything changes. An interrupted move of the same table to the same
// database is resumed instead of started again. On error the move stays
// in its phase: run it again (or Resume) to continue, or Abort.
func Run(ctx context.Context, opts Options, req Request) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	id, err := m.startOrFind(ctx, req)
	if err != nil {
		return m.st, err
	}
	return m.run(ctx, id)
}

// Resume continues move id from its recorded phase.
func Resume(ctx context.Context, opts Options, id int64) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	return m.run(ctx, id)
}

// Abort undoes move id, which must not have switched: it drops the fence,
// the capture trigger and the log from the source and puts the target's
// table back, empty, where Migrate created it. The source serves as
// before.
func Abort(ctx context.Context, opts Options, id int64) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	if m.st, err = loadStatus(ctx, m.ctl, id); err != nil {
		return m.st, err
	}
	switch {
	case m.st.Phase == PhaseAborted:
		return m.st, nil
	case m.st.Phase == PhaseSwitch:
		// Killed in the switch: it happened when the staged table is gone.
		if err := m.connect(ctx); err != nil {
			return m.st, err
		}
		done, err := m.switched(ctx)
		if err != nil {
			return m.st, err
		}
		if !done {
			break
		}
		fallthrough
	case !before(m.st.Phase, PhaseSwitch):
		return m.st, fmt.Errorf("shardgen model move: move %d has switched (phase %s): database %s serves table %s now; move it back with a new move instead of aborting", id, m.st.Phase, m.st.Target, m.st.Table)
	}
	if m.src == nil {
		if err := m.connect(ctx); err != nil {
			return m.st, err
		}
	}
	if err := m.undo(ctx); err != nil {
		m.recordError(err)
		return m.st, fmt.Errorf("%w: abort of move %d: %w", ErrMoveFailed, id, err)
	}
	if err := m.setPhase(ctx, PhaseAborted); err != nil {
		return m.st, err
	}
	return m.st, nil
}

// Finish drops the old, fenced table of done move id from the source.
func Finish(ctx context.Context, opts Options, id int64) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	if m.st, err = loadStatus(ctx, m.ctl, id); err != nil {
		return m.st, err
	}
	switch m.st.Phase {
	case PhaseFinished:
		return m.st, nil
	case PhaseDone:
	default:
		return m.st, fmt.Errorf("shardgen model move: move %d is in phase %s; only a done move can be finished (resume it first)", id, m.st.Phase)
	}
	if err := m.connect(ctx); err != nil {
		return m.st, err
	}
	if _, err := m.src.Exec(ctx, "DROP TABLE IF EXISTS "+m.srcTable()+"; DROP FUNCTION IF EXISTS "+fenceFunc(m.st.ID)+"()"); err != nil {
		return m.st, fmt.Errorf("%w: finish of move %d: dropping the old table on %s: %w", ErrMoveFailed, id, m.st.Source, err)
	}
	if err := m.setPhase(ctx, PhaseFinished); err != nil {
		return m.st, err
	}
	return m.st, nil
}

// List returns every model move, newest first (limit 0: all).
func List(ctx context.Context, opts Options, limit int) ([]Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer m.close()
	q := "SELECT id FROM public.shardgen_model_moves ORDER BY id DESC"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := m.ctl.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, id := range ids {
		st, err := loadStatus(ctx, m.ctl, id)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// placedOn returns the databases and groups of the Spec whose migrations
// create table.
func placedOn(spec runtime.Spec, table string) (dbs, groups []string) {
	creates := func(ms []runtime.Migration) bool {
		for _, mg := range ms {
			if strings.Contains(mg.SQL, `CREATE TABLE IF NOT EXISTS "public".`+runtime.QuoteIdent(table)+" (") ||
				strings.Contains(mg.SQL, "CREATE TABLE IF NOT EXISTS "+runtime.SchemaToken+"."+runtime.QuoteIdent(table)+" (") {
				return true
			}
		}
		return false
	}
	for _, d := range spec.Databases {
		if creates(d.Migrations) {
			dbs = append(dbs, d.Name)
		}
	}
	for _, g := range spec.Groups {
		if creates(g.Migrations) {
			groups = append(groups, g.Name)
		}
	}
	return dbs, groups
}

// startOrFind returns the unfinished move of the same table to the same
// database, or checks the request and records a new move.
func (m *mover) startOrFind(ctx context.Context, req Request) (int64, error) {
	var id int64
	var tbl, target string
	err := m.ctl.QueryRow(ctx, "SELECT id, tbl, target FROM public.shardgen_model_moves WHERE phase NOT IN ($1, $2, $3) ORDER BY id LIMIT 1",
		PhaseDone, PhaseFinished, PhaseAborted).Scan(&id, &tbl, &target)
	switch {
	case err == nil && tbl == req.Table && target == req.To:
		return id, nil
	case err == nil:
		return 0, fmt.Errorf("shardgen model move refused: move %d (table %s to database %s) has not finished; resume or abort it first", id, tbl, target)
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, err
	}
	if !tableRE.MatchString(req.Table) {
		return 0, fmt.Errorf("shardgen model move: %q is not a table name shardgen generates", req.Table)
	}
	dbs, groups := placedOn(m.opts.Spec, req.Table)
	var specDBs []string
	for _, d := range m.opts.Spec.Databases {
		specDBs = append(specDBs, d.Name)
	}
	var specGroups []string
	for _, g := range m.opts.Spec.Groups {
		specGroups = append(specGroups, g.Name)
	}
	into := ""
	switch {
	case slices.Contains(specGroups, req.To):
		if !slices.Contains(groups, req.To) {
			return 0, fmt.Errorf("shardgen model move: the new models do not place table %s in shard group %s: edit the model's directive and go generate first", req.Table, req.To)
		}
		if len(dbs) > 0 {
			return 0, fmt.Errorf("shardgen model move: the new models place table %s on database %s too; they must place it in group %s only", req.Table, dbs[0], req.To)
		}
		if len(m.opts.Config.Groups[req.To]) == 0 {
			return 0, fmt.Errorf("shardgen model move: the config has no servers for group %q (the target)", req.To)
		}
		into = req.To
	case !slices.Contains(specDBs, req.To):
		return 0, fmt.Errorf("shardgen model move: the new models have no database or group %q (databases %s; groups %s)", req.To, strings.Join(specDBs, ", "), strings.Join(specGroups, ", "))
	case len(groups) > 0:
		return 0, fmt.Errorf("shardgen model move: the new models place table %s in shard group %s, not on database %s", req.Table, groups[0], req.To)
	case !slices.Contains(dbs, req.To):
		where := "on no database"
		if len(dbs) > 0 {
			where = "on database " + strings.Join(dbs, ", ")
		}
		return 0, fmt.Errorf("shardgen model move: the new models do not place table %s on database %s (they place it %s): edit the model's directive and go generate first, or name the database they place it on", req.Table, req.To, where)
	}
	if cs := m.opts.Config.Databases[req.To]; cs == "" && into == "" {
		return 0, fmt.Errorf("shardgen model move: the config has no URL for database %q (the target)", req.To)
	}
	// The source: the one other configured database that has the table.
	var names []string
	for name := range m.opts.Config.Databases {
		if name != req.To {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var have []string
	for _, name := range names {
		cs := m.opts.Config.Databases[name]
		if cs == "" || (into == "" && cs == m.opts.Config.Databases[req.To]) {
			continue
		}
		c, err := m.dial(ctx, cs)
		if err != nil {
			return 0, fmt.Errorf("shardgen model move: connecting to database %q: %w", name, scrubErr(err, cs))
		}
		var ok bool
		err = c.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1) IS NOT NULL", "public."+runtime.QuoteIdent(req.Table)).Scan(&ok)
		c.Close(ctx)
		if err != nil {
			return 0, err
		}
		if ok {
			have = append(have, name)
		}
	}
	switch {
	case len(have) == 0:
		return 0, fmt.Errorf("shardgen model move: no database of the config other than %s has table %s: nothing to move", req.To, req.Table)
	case len(have) > 1:
		var old int64
		if err := m.ctl.QueryRow(ctx, "SELECT COALESCE(max(id), 0) FROM public.shardgen_model_moves WHERE tbl = $1 AND phase = $2", req.Table, PhaseDone).Scan(&old); err != nil {
			return 0, err
		}
		if old > 0 {
			return 0, fmt.Errorf("shardgen model move: databases %s all have table %s: one is the old, read-only table of move %d; finish that move first (-finish %d drops it)", strings.Join(have, " and "), req.Table, old, old)
		}
		return 0, fmt.Errorf("shardgen model move: databases %s all have table %s; which one to move from is not clear", strings.Join(have, " and "), req.Table)
	case slices.Contains(dbs, have[0]):
		return 0, fmt.Errorf("shardgen model move: the new models place table %s on database %s too; they must place it on %s only", req.Table, have[0], req.To)
	}
	m.st = Status{Table: req.Table, Source: have[0], Target: req.To, Phase: PhasePreflight}
	if into != "" {
		key, err := shardKey(m.opts.Spec, into, req.Table, req.Key)
		if err != nil {
			return 0, err
		}
		m.st.State.Group, m.st.State.Key = into, key
	}
	if err := m.connect(ctx); err != nil {
		return 0, err
	}
	if err := m.preflight(ctx); err != nil {
		return 0, fmt.Errorf("shardgen model move refused, nothing changed: %w", err)
	}
	m.src.Close(ctx)
	if m.dst != nil {
		m.dst.Close(ctx)
	}
	if m.r != nil {
		m.r.Close()
	}
	m.src, m.dst, m.r, m.g = nil, nil, nil, nil
	st, err := json.Marshal(m.st.State)
	if err != nil {
		return 0, err
	}
	err = m.ctl.QueryRow(ctx, "INSERT INTO public.shardgen_model_moves (tbl, source, target, phase, state) VALUES ($1, $2, $3, $4, $5) RETURNING id",
		req.Table, have[0], req.To, PhasePreflight, st).Scan(&id)
	return id, err
}

// run carries move id from its phase to PhaseDone.
func (m *mover) run(ctx context.Context, id int64) (Status, error) {
	var err error
	if m.st, err = loadStatus(ctx, m.ctl, id); err != nil {
		return m.st, err
	}
	m.progress(Progress{})
	switch m.st.Phase {
	case PhaseDone, PhaseFinished:
		return m.st, nil
	case PhaseAborted:
		return m.st, fmt.Errorf("shardgen model move: move %d was aborted", id)
	}
	if err := m.connect(ctx); err != nil {
		return m.st, err
	}
	if err := m.steps(ctx); err != nil {
		if errors.Is(err, ErrStopped) {
			return m.st, err
		}
		m.recordError(err)
		return m.st, fmt.Errorf("%w: move %d in phase %s: %w (run it again to resume, or abort it)", ErrMoveFailed, m.st.ID, m.st.Phase, err)
	}
	return m.st, nil
}

// step is one phase: its work, then the phase that follows.
type step struct {
	phase string
	work  func(context.Context) error
}

func (m *mover) steps(ctx context.Context) error {
	plan := []step{
		{PhasePreflight, m.preflight},
		{PhaseCapture, m.capture},
		{PhaseStaging, m.staging},
		{PhaseCopy, m.copyRows},
		{PhaseCatchup, m.catchup},
		{PhaseFence, m.fence},
		{PhaseVerify, m.verify},
		{PhaseSwitch, m.switchTarget},
		{PhaseCleanup, m.cleanup},
		{PhaseDone, nil},
	}
	i := slices.IndexFunc(plan, func(s step) bool { return s.phase == m.st.Phase })
	if i < 0 {
		return fmt.Errorf("move %d is in unknown phase %q", m.st.ID, m.st.Phase)
	}
	for ; i < len(plan); i++ {
		if plan[i].work == nil {
			return nil
		}
		if err := plan[i].work(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, plan[i+1].phase); err != nil {
			return err
		}
	}
	return nil
}
