package move

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/placement"
)

// Run starts a move of req.Shards of req.Group to server req.To (from the
// server that holds them now) and carries it to PhaseDone: the shards are
// served by the target, the old copy is renamed away on the source until
// Finish. A move of the same shards to the same target that was
// interrupted is resumed instead of started again. On error the move stays
// in its phase: run it again (or Resume) to continue, or Abort.
func Run(ctx context.Context, opts Options, req Request) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	id, err := m.startOrFind(ctx, req)
	if err != nil {
		return Status{}, err
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

// Abort undoes move id, which must not have switched: it drops the
// subscription, the replication slot, the publication, the fence and the
// marker tables, and the target's copy of the shards. The source serves
// the shards as before.
func Abort(ctx context.Context, opts Options, id int64) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	if m.st, err = loadStatus(ctx, m.store.Pool(), id); err != nil {
		return m.st, err
	}
	switch {
	case m.st.Phase == PhaseAborted:
		return m.st, nil
	case !before(m.st.Phase, PhaseSwitched):
		return m.st, fmt.Errorf("shardgen move: move %d has switched (phase %s): the target serves the shards now; move them back with a new move instead of aborting", id, m.st.Phase)
	}
	if err := m.connect(ctx); err != nil {
		return m.st, err
	}
	if err := m.teardown(ctx, true); err != nil {
		m.recordError(err)
		return m.st, fmt.Errorf("%w: abort of move %d: %w", ErrMoveFailed, id, err)
	}
	if err := m.setPhase(ctx, PhaseAborted); err != nil {
		return m.st, err
	}
	return m.st, nil
}

// Finish drops the old copy of the shards of move id from the source, once
// the move is done.
func Finish(ctx context.Context, opts Options, id int64) (Status, error) {
	m, err := open(ctx, opts)
	if err != nil {
		return Status{}, err
	}
	defer m.close()
	if m.st, err = loadStatus(ctx, m.store.Pool(), id); err != nil {
		return m.st, err
	}
	switch m.st.Phase {
	case PhaseFinished:
		return m.st, nil
	case PhaseDone:
	default:
		return m.st, fmt.Errorf("shardgen move: move %d is in phase %s; only a done move can be finished (resume it first)", id, m.st.Phase)
	}
	if err := m.connect(ctx); err != nil {
		return m.st, err
	}
	for _, s := range m.schemas() {
		if _, err := m.src.Exec(ctx, "DROP SCHEMA IF EXISTS "+runtime.QuoteIdent(oldSchema(m.st.ID, s))+" CASCADE"); err != nil {
			return m.st, fmt.Errorf("%w: finish of move %d: dropping the old copy of %s on %q: %w", ErrMoveFailed, id, s, m.st.Source, err)
		}
	}
	if err := m.setPhase(ctx, PhaseFinished); err != nil {
		return m.st, err
	}
	return m.st, nil
}

// List returns every move, newest first (limit 0: all).
func List(ctx context.Context, opts Options, limit int) ([]Status, error) {
	opts = opts.withDefaults()
	store, err := placement.Open(ctx, opts.Control)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if err := store.Install(ctx); err != nil {
		return nil, err
	}
	q := "SELECT id FROM public.shardgen_moves ORDER BY id DESC"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := store.Pool().Query(ctx, q)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, id := range ids {
		st, err := loadStatus(ctx, store.Pool(), id)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// startOrFind records a new move (phase preflight) or returns the
// unfinished move of the same shards to the same target.
func (m *mover) startOrFind(ctx context.Context, req Request) (int64, error) {
	active, err := m.store.Active(ctx)
	if err != nil {
		return 0, err
	}
	for _, a := range active {
		if a.Group == req.Group && a.First == int(req.Shards.First) && a.Last == int(req.Shards.Last) && a.Target == req.To {
			return a.ID, nil
		}
		return 0, fmt.Errorf("shardgen move refused: %s; resume or abort it first", a)
	}
	var cleanup []int64
	rows, err := m.store.Pool().Query(ctx, "SELECT id FROM public.shardgen_moves WHERE phase IN ('switched', 'cleanup') ORDER BY id")
	if err != nil {
		return 0, err
	}
	if cleanup, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return 0, err
	}
	if len(cleanup) > 0 {
		return 0, fmt.Errorf("shardgen move refused: move %d switched but did not clean up; resume it first", cleanup[0])
	}
	p, err := m.store.Load(ctx)
	if err != nil {
		return 0, err
	}
	owners, ok := p.Groups[req.Group]
	if !ok {
		return 0, fmt.Errorf("shardgen move: the placement has no group %q", req.Group)
	}
	if int(req.Shards.Last) >= len(owners) || req.Shards.First < 0 {
		return 0, fmt.Errorf("shardgen move: shards %s are outside group %s (0-%d)", req.Shards, req.Group, len(owners)-1)
	}
	source := owners[req.Shards.First]
	for s := req.Shards.First; s <= req.Shards.Last; s++ {
		if owners[s] != source {
			return 0, fmt.Errorf("shardgen move: shards %s of group %s are on more than one server (shard %d on %q, shard %d on %q); move one server's shards at a time", req.Shards, req.Group, req.Shards.First, source, s, owners[s])
		}
	}
	if source == req.To {
		return 0, fmt.Errorf("shardgen move: shards %s of group %s are already on server %q", req.Shards, req.Group, req.To)
	}
	var id int64
	err = m.store.Pool().QueryRow(ctx, "INSERT INTO public.shardgen_moves (grp, first_shard, last_shard, source, target, phase) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
		req.Group, int(req.Shards.First), int(req.Shards.Last), source, req.To, PhasePreflight).Scan(&id)
	return id, err
}

// run carries move id from its phase to PhaseDone.
func (m *mover) run(ctx context.Context, id int64) (Status, error) {
	var err error
	if m.st, err = loadStatus(ctx, m.store.Pool(), id); err != nil {
		return m.st, err
	}
	m.progress(Progress{})
	switch m.st.Phase {
	case PhaseDone, PhaseFinished:
		return m.st, nil
	case PhaseAborted:
		return m.st, fmt.Errorf("shardgen move: move %d was aborted", id)
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

func (m *mover) steps(ctx context.Context) error {
	// Before the fence nothing is lost by starting the copy again; a
	// half-made subscription is not worth diagnosing.
	if before(m.st.Phase, PhaseFence) {
		if m.st.Phase != PhasePreflight {
			if err := m.teardown(ctx, true); err != nil {
				return err
			}
			if err := m.setPhase(ctx, PhasePreflight); err != nil {
				return err
			}
		}
		if err := m.preflight(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseSchemas); err != nil {
			return err
		}
		if err := m.createSchemas(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseCopy); err != nil {
			return err
		}
		if err := m.startCopy(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseCatchup); err != nil {
			return err
		}
		if err := m.catchup(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseFence); err != nil {
			return err
		}
	}
	if m.st.Phase == PhaseFence {
		if err := m.fence(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseVerify); err != nil {
			return err
		}
	}
	if m.st.Phase == PhaseVerify {
		if err := m.verify(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseIDs); err != nil {
			return err
		}
	}
	if m.st.Phase == PhaseIDs {
		if err := m.carryIDs(ctx); err != nil {
			return err
		}
		if err := m.switchPlacement(ctx); err != nil {
			return err
		}
	}
	if m.st.Phase == PhaseSwitched {
		if err := m.setPhase(ctx, PhaseCleanup); err != nil {
			return err
		}
	}
	if m.st.Phase == PhaseCleanup {
		if err := m.teardown(ctx, false); err != nil {
			return err
		}
		if err := m.retireSource(ctx); err != nil {
			return err
		}
		if err := m.setPhase(ctx, PhaseDone); err != nil {
			return err
		}
	}
	return nil
}

// switchPlacement updates the placement and records PhaseSwitched in one
// transaction: the switch and its record cannot disagree.
func (m *mover) switchPlacement(ctx context.Context) error {
	now := time.Now()
	err := pgx.BeginFunc(ctx, m.store.Pool(), func(tx pgx.Tx) error {
		v, err := placement.Switch(ctx, tx, m.st.Group, m.st.Shards, m.st.Source, m.st.Target)
		if err != nil {
			return err
		}
		m.st.State.SwitchAt, m.st.State.Version = now, v
		st := m.st.State
		b, err := jsonMarshal(st)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE public.shardgen_moves SET phase = $2, state = $3, updated_at = now() WHERE id = $1", m.st.ID, PhaseSwitched, b); err != nil {
			return err
		}
		m.st.Phase = PhaseSwitched
		return nil
	})
	if err != nil {
		return err
	}
	m.logf("shardgen move: switched", "version", m.st.State.Version)
	m.progress(Progress{PauseStart: m.st.State.FencedAt})
	return nil
}
