// Package modelmove moves a model's table, with its rows, from one database
// of the Spec to another (default <-> feature partition <-> feature
// partition) while the version of the application that places the model
// on the old database keeps serving, so that the version placing it on the
// new one finds every row there, IDs kept. It is what `shardgen move
// -model` runs after a directive edit such as //shardgen:partition
// analytics -> //shardgen:default and go generate:
//
//	preflight  the Spec (the new version's) places the table on the target
//	           database and not on the source; both have URLs in the
//	           Config; the source has the table, with a one-column
//	           primary key; the target has no rows in it
//	capture    on the source, a row trigger records the key of every row
//	           written from now on in a log table (creating it waits for
//	           the writers in flight, so every later write is logged);
//	           TRUNCATE is refused
//	staging    on the target, Migrate (the new Spec) creates the table; it
//	           is set aside in a schema of the move, and the table's name
//	           holds a view that fails every statement with the fence's
//	           SQLSTATE: the new version, if deployed early, fails loudly
//	           instead of reading a half-copied table
//	copy       the rows, in primary-key chunks, through the mover
//	catchup    the logged keys are copied again (each row as it is now, or
//	           deleted) until the log is short
//	fence      a statement trigger on the source table raises SQLSTATE
//	           runtime.FenceSQLState on every write (created like the
//	           shard move's fence, package runtime/move): the running
//	           version's writes fail with runtime.ErrTableMoved from here
//	           on; its reads keep reading the old table
//	verify     the log is drained to empty; row counts and md5 checksums
//	           per primary-key chunk of both tables are compared
//	switch     on the target, in one transaction, the view is dropped and
//	           the table put in its place, its ID sequence set above every
//	           ID the source minted: the new version serves
//	cleanup    the log and the capture trigger are dropped from the source
//	done       the old table stays on the source, fenced (read-only),
//	           until Finish drops it
//
// Every phase is recorded in the control database's shardgen_model_moves
// table before its work starts and every step is idempotent, so a mover
// killed at any point is resumed (Resume, or Run again with the same
// request) or, before the switch, aborted (Abort undoes everything the
// recorded phase may have done; the source serves as before).
//
// How the switch meets the deploy: the new version is deployed after the
// move says done. Between the fence and that deploy the running version's
// writes of the model fail with runtime.ErrTableMoved (typed, never a
// silent write to the old place); the window is the fence-to-switch pause
// (milliseconds, Status.State) plus the time the deploy takes. A new
// version deployed before the switch fails on the view (the fence's
// SQLSTATE, ErrTableMoved) instead of reading an empty or partial table.
package modelmove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
)

// Phases in order; see the package documentation.
const (
	PhasePreflight = "preflight"
	PhaseCapture   = "capture"
	PhaseStaging   = "staging"
	PhaseCopy      = "copy"
	PhaseCatchup   = "catchup"
	PhaseFence     = "fence"
	PhaseVerify    = "verify"
	PhaseSwitch    = "switch"
	PhaseCleanup   = "cleanup"
	PhaseDone      = "done"
	PhaseFinished  = "finished"
	PhaseAborted   = "aborted"
)

var phaseOrder = []string{PhasePreflight, PhaseCapture, PhaseStaging, PhaseCopy, PhaseCatchup, PhaseFence, PhaseVerify,
	PhaseSwitch, PhaseCleanup, PhaseDone, PhaseFinished, PhaseAborted}

func before(a, b string) bool { return slices.Index(phaseOrder, a) < slices.Index(phaseOrder, b) }

// Defaults of Options.
const (
	DefaultCopyChunk        = 5000
	DefaultVerifyChunk      = 10000
	DefaultCatchupRows      = 500
	DefaultFenceLockTimeout = time.Second
	DefaultFenceAttempts    = 5
	DefaultTimeout          = 30 * time.Minute
)

// lockKey is the session advisory lock a model mover holds on the control
// database for its whole run: one model move runs at a time. The high
// word spells "sgmv" like package placement's keys.
const lockKey int64 = 0x73676d76_00000003

// lockWait is how long a mover waits for the lock before refusing.
const lockWait = 5 * time.Second

// ErrMoveFailed wraps every error a move step returns; the move stays in
// its recorded phase, to be resumed or aborted.
var ErrMoveFailed = errors.New("shardgen model move failed")

// ErrStopped is returned when Options.StopAfter stopped the run.
var ErrStopped = errors.New("shardgen model move: stopped as requested")

// Options says where everything is: Config and Spec are the new version's
// (the Spec places the table on its new database); Config must have the
// URLs of both databases.
type Options struct {
	Config runtime.Config
	Spec   runtime.Spec
	// Control is the database holding the moves' records; default
	// Config.Databases["default"].
	Control string
	// CopyChunk is the number of rows copied per round trip. Default
	// DefaultCopyChunk.
	CopyChunk int
	// VerifyChunk is the number of rows per checksum chunk. Default
	// DefaultVerifyChunk.
	VerifyChunk int
	// CatchupRows is the length of the log below which the fence is
	// created. Default DefaultCatchupRows.
	CatchupRows int
	// FenceLockTimeout and FenceAttempts bound the wait of the capture
	// trigger and of the fence for the writers in flight (see
	// move.LockedDDL). Defaults DefaultFenceLockTimeout, DefaultFenceAttempts.
	FenceLockTimeout time.Duration
	FenceAttempts    int
	// Timeout bounds the catch-up. Default DefaultTimeout.
	Timeout time.Duration
	// Progress, when set, is called at every phase and every second of
	// the copy.
	Progress func(Progress)
	// Logger, when set, receives one line per phase.
	Logger *slog.Logger
	// StopAfter, when set, ends the run with ErrStopped right after the
	// named phase is recorded, before its work.
	StopAfter string
}

// Request names the table to move and its new database. The source is the
// one other database of the Config that has the table.
type Request struct {
	Table string
	To    string // a database, or a shard group
	// Key is the shard key column when To is a group; empty: the one the
	// generated DDL names (its UNIQUE (key, id) constraint).
	Key string
}

// Progress reports a move's state.
type Progress struct {
	ID      int64
	Phase   string
	Rows    int64 // rows copied so far
	Total   int64 // rows of the source table (estimate) at the start of the copy
	Log     int64 // keys waiting in the log
	Elapsed time.Duration
}

// State is what the move record keeps besides its phase.
type State struct {
	Group     string    `json:"group,omitempty"`   // the target is this shard group (Status.Target names it)
	Key       string    `json:"key,omitempty"`     // the shard key column (into a group)
	Mapped    int64     `json:"mapped,omitempty"`  // old IDs given a new one (into a group)
	Columns   []string  `json:"columns,omitempty"` // copied columns (both tables have them), by name
	PK        string    `json:"pk,omitempty"`      // primary key column
	Cursor    *int64    `json:"cursor,omitempty"`  // last key copied
	Copied    int64     `json:"copied,omitempty"`  // rows copied
	CopyStart time.Time `json:"copy_start,omitzero"`
	CopyEnd   time.Time `json:"copy_end,omitzero"`
	Resynced  int64     `json:"resynced,omitempty"` // logged keys copied again
	FencedAt  time.Time `json:"fenced_at,omitzero"`
	SwitchAt  time.Time `json:"switched_at,omitzero"`
	Rows      int64     `json:"rows,omitempty"` // rows verified
	Chunks    int       `json:"chunks,omitempty"`
	NextID    int64     `json:"next_id,omitempty"` // the target's ID sequence was set above this
}

// RowsPerSecond is the copy's rate (0 before the copy ended).
func (s State) RowsPerSecond() float64 {
	d := s.CopyEnd.Sub(s.CopyStart).Seconds()
	if s.CopyEnd.IsZero() || d <= 0 {
		return 0
	}
	return float64(s.Copied) / d
}

// Pause is the time from the fence to the switch: writes of the model fail
// in it (and, for the running version, until the new one is deployed).
func (s State) Pause() time.Duration {
	if s.FencedAt.IsZero() || s.SwitchAt.IsZero() {
		return 0
	}
	return s.SwitchAt.Sub(s.FencedAt)
}

// Status is one move's record.
type Status struct {
	ID             int64
	Table          string
	Source, Target string // database names
	Phase          string
	Error          string
	State          State
	Started        time.Time
	Updated        time.Time
}

const controlDDL = `CREATE TABLE IF NOT EXISTS public.shardgen_model_moves (
	id bigserial PRIMARY KEY,
	tbl text NOT NULL,
	source text NOT NULL,
	target text NOT NULL,
	phase text NOT NULL,
	state jsonb NOT NULL DEFAULT '{}',
	error text NOT NULL DEFAULT '',
	started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
)`

// Names of the artifacts of move id: a schema of that name on the source
// (log and capture function) and on the target (the table while it is
// staged), and the fence function in the source's schema public.
func workSchema(id int64) string { return fmt.Sprintf("shardgen_modelmove_%d", id) }
func fenceFunc(id int64) string {
	return "public." + runtime.QuoteIdent(fmt.Sprintf("shardgen_modelmove_%d_fence", id))
}
func moverName(id int64) string { return fmt.Sprintf("shardgen_modelmover_%d", id) }

const (
	fenceTrigger    = "shardgen_fence"
	captureTrigger  = "shardgen_modelmove_capture"
	truncateTrigger = "shardgen_modelmove_no_truncate"
)

type mover struct {
	opts  Options
	ctl   *pgxpool.Pool
	lock  *pgxpool.Conn
	st    Status
	src   *pgx.Conn
	dst   *pgx.Conn       // the target database (nil into a group)
	r     *runtime.Router // the target group's servers (into a group)
	g     *runtime.Group
	srcCS string
	dstCS string
	start time.Time
}

func (o Options) withDefaults() Options {
	if o.Control == "" {
		o.Control = o.Config.Databases["default"]
	}
	if o.CopyChunk <= 0 {
		o.CopyChunk = DefaultCopyChunk
	}
	if o.VerifyChunk <= 0 {
		o.VerifyChunk = DefaultVerifyChunk
	}
	if o.CatchupRows <= 0 {
		o.CatchupRows = DefaultCatchupRows
	}
	if o.FenceLockTimeout <= 0 {
		o.FenceLockTimeout = DefaultFenceLockTimeout
	}
	if o.FenceAttempts <= 0 {
		o.FenceAttempts = DefaultFenceAttempts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// open connects to the control database, creates the moves table and takes
// the model-move lock.
func open(ctx context.Context, opts Options) (*mover, error) {
	opts = opts.withDefaults()
	if opts.Control == "" {
		return nil, errors.New("shardgen model move: no control database (set Options.Control or Config.Databases[\"default\"])")
	}
	cfg, err := pgxpool.ParseConfig(opts.Control)
	if err != nil {
		return nil, errors.New("shardgen model move: control database: connection string does not parse")
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.New("shardgen model move: control database: cannot create pool")
	}
	m := &mover{opts: opts, ctl: pool, start: time.Now()}
	if _, err := pool.Exec(ctx, controlDDL); err != nil {
		var pgErr *pgconn.PgError
		// Two movers creating the table at once: one loses on the catalog.
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			m.close()
			return nil, fmt.Errorf("shardgen model move: control database: %w", scrubErr(err, opts.Control))
		}
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("shardgen model move: control database: %w", scrubErr(err, opts.Control))
	}
	// A mover that was just killed holds the lock until the server has
	// noticed its connection is gone: wait a little before refusing.
	var ok bool
	for deadline := time.Now().Add(lockWait); ; {
		if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_lock($1)", lockKey).Scan(&ok); err != nil {
			c.Release()
			m.close()
			return nil, fmt.Errorf("shardgen model move: control database: %w", err)
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ok {
		c.Release()
		m.close()
		return nil, errors.New("shardgen model move refused: another model mover is running (it holds the lock on the control database); try again when it has finished")
	}
	m.lock = c
	return m, nil
}

func (m *mover) close() {
	bg := context.Background()
	if m.src != nil {
		m.src.Close(bg)
	}
	if m.dst != nil {
		m.dst.Close(bg)
	}
	if m.r != nil {
		m.r.Close()
	}
	if m.lock != nil {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		if _, err := m.lock.Exec(ctx, "SELECT pg_catalog.pg_advisory_unlock($1)", lockKey); err != nil {
			m.lock.Conn().Close(ctx)
		}
		cancel()
		m.lock.Release()
	}
	m.ctl.Close()
}

func (m *mover) logf(msg string, args ...any) {
	if m.opts.Logger != nil {
		m.opts.Logger.Info(msg, append([]any{"move", m.st.ID, "phase", m.st.Phase}, args...)...)
	}
}

func (m *mover) progress(p Progress) {
	if m.opts.Progress != nil {
		p.ID, p.Phase, p.Elapsed = m.st.ID, m.st.Phase, time.Since(m.start)
		m.opts.Progress(p)
	}
}

// setPhase records the phase (and the state) before its work starts.
func (m *mover) setPhase(ctx context.Context, phase string) error {
	st, err := json.Marshal(m.st.State)
	if err != nil {
		return err
	}
	if _, err := m.ctl.Exec(ctx, "UPDATE public.shardgen_model_moves SET phase = $2, state = $3, error = '', updated_at = now() WHERE id = $1", m.st.ID, phase, st); err != nil {
		return fmt.Errorf("shardgen model move: recording phase %s: %w", phase, err)
	}
	m.st.Phase = phase
	m.logf("shardgen model move: phase")
	m.progress(Progress{})
	if m.opts.StopAfter == phase {
		return ErrStopped
	}
	return nil
}

func (m *mover) saveState(ctx context.Context) error {
	st, err := json.Marshal(m.st.State)
	if err != nil {
		return err
	}
	_, err = m.ctl.Exec(ctx, "UPDATE public.shardgen_model_moves SET state = $2, updated_at = now() WHERE id = $1", m.st.ID, st)
	return err
}

func (m *mover) recordError(err error) {
	if errors.Is(err, ErrStopped) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = m.ctl.Exec(ctx, "UPDATE public.shardgen_model_moves SET error = $2, updated_at = now() WHERE id = $1", m.st.ID, err.Error())
}

func scrubErr(err error, cs string) error {
	pc, perr := pgconn.ParseConfig(cs)
	if perr != nil || pc.Password == "" || !strings.Contains(err.Error(), pc.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pc.Password, "xxxxx"))
}

// connect opens the mover's connections to the source and target
// databases and ends the sessions a killed earlier run left.
func (m *mover) connect(ctx context.Context) error {
	var ok bool
	if m.srcCS, ok = m.opts.Config.Databases[m.st.Source]; !ok || m.srcCS == "" {
		return fmt.Errorf("shardgen model move: the config has no URL for database %q (the source)", m.st.Source)
	}
	var err error
	if m.src, err = m.dial(ctx, m.srcCS); err != nil {
		return fmt.Errorf("shardgen model move: connecting to database %q: %w", m.st.Source, scrubErr(err, m.srcCS))
	}
	if err := move.EndSessions(ctx, m.src, moverName(m.st.ID)); err != nil {
		return err
	}
	if m.st.State.Group != "" {
		return m.connectGroup(ctx)
	}
	if m.dstCS, ok = m.opts.Config.Databases[m.st.Target]; !ok || m.dstCS == "" {
		return fmt.Errorf("shardgen model move: the config has no URL for database %q (the target)", m.st.Target)
	}
	if m.dst, err = m.dial(ctx, m.dstCS); err != nil {
		return fmt.Errorf("shardgen model move: connecting to database %q: %w", m.st.Target, scrubErr(err, m.dstCS))
	}
	return move.EndSessions(ctx, m.dst, moverName(m.st.ID))
}

func (m *mover) dial(ctx context.Context, cs string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		return nil, errors.New("connection string does not parse")
	}
	cfg.RuntimeParams["application_name"] = moverName(m.st.ID)
	return pgx.ConnectConfig(ctx, cfg)
}

func loadStatus(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id int64) (Status, error) {
	var st Status
	var state []byte
	err := q.QueryRow(ctx, "SELECT id, tbl, source, target, phase, error, state, started_at, updated_at FROM public.shardgen_model_moves WHERE id = $1", id).
		Scan(&st.ID, &st.Table, &st.Source, &st.Target, &st.Phase, &st.Error, &state, &st.Started, &st.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("shardgen model move: no move %d", id)
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(state, &st.State); err != nil {
		return st, fmt.Errorf("shardgen model move: move %d: state: %w", id, err)
	}
	return st, nil
}
