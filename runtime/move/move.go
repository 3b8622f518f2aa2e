// Package move moves a range of logical shards of a group from one
// physical server to another while the application keeps running:
//
//	preflight  wal_level=logical on the source, every table with a primary
//	           key, the shards on the source, nothing on the target, the
//	           source at the Spec's migrations, no migration running
//	schemas    the shards' schemas created on the target by Migrate (the
//	           Spec's DDL), then emptied; a marker table on both servers
//	copy       a publication FOR TABLES IN SCHEMA on the source and a
//	           subscription on the target: PostgreSQL's logical replication
//	           copies the rows and streams every later change
//	catchup    wait until every table is copied and the slot's lag is small
//	fence      a statement trigger on every table of the shards on the
//	           source that raises SQLSTATE runtime.FenceSQLState. Creating
//	           it waits for in-flight writers (they commit before it, or
//	           are terminated after FenceAttempts); writers queued behind it
//	           meet it, because it lasts: it is a committed trigger, not a
//	           held lock (the Vitess lost-write bug #9453)
//	verify     a marker row written on the source after the fence is
//	           awaited on the target, so every write before the fence has
//	           arrived; then row counts and md5 checksums per primary-key
//	           chunk of every table are compared
//	ids        the per-shard ID sequences are set on the target to at
//	           least the source's, so the target never mints an ID the
//	           source minted
//	switched   the placement table is updated (one transaction with the
//	           phase) and announced; writers that met the fence are sent to
//	           the target
//	cleanup    subscription, replication slot, publication and marker
//	           tables dropped; the source schemas renamed away (reads on
//	           the source stop: a stale process is redirected)
//	done       the old copy stays until Finish drops it
//
// Every phase is recorded in the control database's shardgen_moves table
// before its artifacts are created, and every step is idempotent, so a
// mover killed at any point is resumed (Resume continues; before the fence
// it starts the copy again) or aborted (Abort drops everything the
// recorded phase may have created) cleanly.
package move

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/shardgen/shardgen/runtime/placement"
)

// Phases in order; see the package documentation.
const (
	PhasePreflight = "preflight"
	PhaseSchemas   = "schemas"
	PhaseCopy      = "copy"
	PhaseCatchup   = "catchup"
	PhaseFence     = "fence"
	PhaseVerify    = "verify"
	PhaseIDs       = "ids"
	PhaseSwitched  = "switched"
	PhaseCleanup   = "cleanup"
	PhaseDone      = "done"
	PhaseFinished  = "finished"
	PhaseAborted   = "aborted"
)

var phaseOrder = []string{PhasePreflight, PhaseSchemas, PhaseCopy, PhaseCatchup, PhaseFence, PhaseVerify, PhaseIDs,
	PhaseSwitched, PhaseCleanup, PhaseDone, PhaseFinished, PhaseAborted}

func phaseIndex(p string) int { return slices.Index(phaseOrder, p) }

// before reports whether phase a comes before phase b.
func before(a, b string) bool { return phaseIndex(a) < phaseIndex(b) }

// Defaults of Options.
const (
	DefaultFenceLockTimeout = time.Second
	DefaultFenceAttempts    = 5
	DefaultCatchupLag       = 1 << 20
	DefaultVerifyChunk      = 10000
	DefaultTimeout          = 30 * time.Minute
)

// ErrMoveFailed wraps every error a move step returns; the move stays in
// its recorded phase, to be resumed or aborted.
var ErrMoveFailed = errors.New("shardgen move failed")

// Options says where everything is. Config must list the target server in
// the group (with Shards "" when it holds nothing yet), as every process's
// config must before the move switches.
type Options struct {
	Config runtime.Config
	Spec   runtime.Spec
	// Control is the database holding the placement and the moves' records;
	// default Config.Databases["default"].
	Control string
	// FenceLockTimeout bounds each attempt to take the locks the fence
	// needs (a writer holding a table lock delays it); after FenceAttempts
	// attempts the sessions holding the locks are terminated (their
	// transactions fail, nothing they wrote commits) and the fence is
	// created. Defaults DefaultFenceLockTimeout and DefaultFenceAttempts.
	FenceLockTimeout time.Duration
	FenceAttempts    int
	// CatchupLag is the replication lag in bytes below which the fence is
	// created. Default DefaultCatchupLag.
	CatchupLag int64
	// VerifyChunk is the number of rows per checksum chunk. Default
	// DefaultVerifyChunk.
	VerifyChunk int
	// Timeout bounds waiting for the copy and for the marker. Default
	// DefaultTimeout.
	Timeout time.Duration
	// Progress, when set, is called at every phase and periodically during
	// the copy.
	Progress func(Progress)
	// Logger, when set, receives one line per phase.
	Logger *slog.Logger
	// StopAfter, when set, ends Run with ErrStopped right after the named
	// phase is recorded, before its work: tests and operators use it to
	// stop a move at a chosen point.
	StopAfter string
}

// ErrStopped is returned by Run when Options.StopAfter stopped it.
var ErrStopped = errors.New("shardgen move: stopped as requested")

// Progress reports a move's state.
type Progress struct {
	ID          int64
	Phase       string
	Tables      int   // tables being copied
	TablesReady int   // tables whose initial copy finished
	Rows        int64 // rows on the target so far (estimate during copy)
	Bytes       int64 // size of the target's tables
	LagBytes    int64 // WAL not yet confirmed by the subscription
	Elapsed     time.Duration
	ETA         time.Duration // 0 when unknown
	PauseStart  time.Time     // when the fence was created (zero before)
}

// Request names what to move.
type Request struct {
	Group  string
	Shards runtime.ShardRange
	To     string // the target server's name in the group's config
}

// State is what the move record keeps besides its phase.
type State struct {
	Token     string           `json:"token,omitempty"`      // the marker
	SubOID    uint32           `json:"sub_oid,omitempty"`    // subscription's OID on the target
	Sequences map[string]int64 `json:"sequences,omitempty"`  // schema -> last_value carried to the target
	FencedAt  time.Time        `json:"fenced_at,omitzero"`   // fence committed
	SwitchAt  time.Time        `json:"switched_at,omitzero"` // placement switched
	Verified  []string         `json:"verified,omitempty"`   // one line per table: rows and chunks
	Rows      int64            `json:"rows,omitempty"`       // rows verified
	Version   int64            `json:"version,omitempty"`    // placement version of the switch
}

// Status is one move's record.
type Status struct {
	ID             int64
	Group          string
	Shards         runtime.ShardRange
	Source, Target string
	Phase          string
	Error          string
	State          State
	Started        time.Time
	Updated        time.Time
}

// Names of the artifacts of move id: publication, slot and subscription
// share one name; the marker table is in schema public of both servers.
func artifact(id int64) string    { return fmt.Sprintf("shardgen_move_%d", id) }
func markerTable(id int64) string { return fmt.Sprintf("public.shardgen_move_%d_marker", id) }
func fenceTrigger() string        { return "shardgen_fence" }

// moverName is the application_name of the mover's sessions (not the
// subscription's name, which its walsender uses).
func moverName(id int64) string { return fmt.Sprintf("shardgen_mover_%d", id) }

// oldSchema is what the source copy of a shard is renamed to at cleanup.
func oldSchema(id int64, schema string) string {
	return fmt.Sprintf("shardgen_moved_%d_%s", id, schema)
}

// mover is one run of a move (Run, Resume, Abort or Finish).
type mover struct {
	opts       Options
	store      *placement.Store
	lock       *pgxpool.Conn // holds placement.LockKey exclusively
	st         Status
	gs         runtime.GroupSpec
	src        *pgx.Conn
	dst        *pgx.Conn
	subErrBase int64  // subscription errors seen first by this run; -1 before
	srcCS      string // source connection string (never printed)
	dstCS      string
	start      time.Time
}

func (o Options) withDefaults() Options {
	if o.Control == "" {
		o.Control = o.Config.Databases["default"]
	}
	if o.FenceLockTimeout <= 0 {
		o.FenceLockTimeout = DefaultFenceLockTimeout
	}
	if o.FenceAttempts <= 0 {
		o.FenceAttempts = DefaultFenceAttempts
	}
	if o.CatchupLag <= 0 {
		o.CatchupLag = DefaultCatchupLag
	}
	if o.VerifyChunk <= 0 {
		o.VerifyChunk = DefaultVerifyChunk
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// open connects to the control database, installs the placement tables,
// seeds them from the static Config and takes the move lock.
func open(ctx context.Context, opts Options) (*mover, error) {
	opts = opts.withDefaults()
	if opts.Control == "" {
		return nil, errors.New("shardgen move: no control database (set Options.Control or Config.Databases[\"default\"])")
	}
	r, err := runtime.Open(ctx, opts.Config, opts.Spec)
	if err != nil {
		return nil, fmt.Errorf("shardgen move: %w", err)
	}
	defer r.Close()
	store, err := placement.Open(ctx, opts.Control)
	if err != nil {
		return nil, err
	}
	m := &mover{opts: opts, store: store, start: time.Now(), subErrBase: -1}
	if err := store.Install(ctx); err != nil {
		m.close()
		return nil, fmt.Errorf("shardgen move: installing the placement tables: %w", err)
	}
	if err := store.Seed(ctx, r); err != nil {
		m.close()
		return nil, fmt.Errorf("shardgen move: seeding the placement: %w", err)
	}
	c, err := store.Pool().Acquire(ctx)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("shardgen move: control database: %w", err)
	}
	// A mover that was just killed holds the lock until its server notices
	// the closed connection (after the statement that session was running),
	// so a resume waits a little before it calls the lock taken.
	var ok bool
	for deadline := time.Now().Add(lockWait); ; {
		if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_lock($1)", placement.LockKey).Scan(&ok); err != nil {
			c.Release()
			m.close()
			return nil, fmt.Errorf("shardgen move: control database: %w", err)
		}
		if ok || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			c.Release()
			m.close()
			return nil, fmt.Errorf("shardgen move: waiting for the move lock: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !ok {
		c.Release()
		m.close()
		return nil, fmt.Errorf("shardgen move refused: a migration or another mover is running (it holds the move lock on the control database); try again when it has finished")
	}
	m.lock = c
	return m, nil
}

// lockWait is how long a mover waits for the move lock before refusing.
const lockWait = 10 * time.Second

func (m *mover) close() {
	if m.src != nil {
		m.src.Close(context.Background())
	}
	if m.dst != nil {
		m.dst.Close(context.Background())
	}
	if m.lock != nil {
		// Unlock explicitly: a closed session releases the lock too, but
		// only once the server has noticed, which a caller that runs
		// Migrate next would race.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := m.lock.Exec(ctx, "SELECT pg_catalog.pg_advisory_unlock($1)", placement.LockKey); err != nil {
			m.lock.Conn().Close(ctx)
		}
		cancel()
		m.lock.Release()
	}
	m.store.Close()
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

// serverURL finds a server's connection string in the group's config.
func (m *mover) serverURL(name string) (string, error) {
	for _, s := range m.opts.Config.Groups[m.st.Group] {
		if s.Name == name {
			return s.URL, nil
		}
	}
	var names []string
	for _, s := range m.opts.Config.Groups[m.st.Group] {
		names = append(names, s.Name)
	}
	return "", fmt.Errorf("shardgen move: group %s has no server %q in the config (it has %s); add the target server to the config of the mover and of every process first", m.st.Group, name, strings.Join(names, ", "))
}

// connect opens the mover's connections to source and target.
func (m *mover) connect(ctx context.Context) error {
	for _, gs := range m.opts.Spec.Groups {
		if gs.Name == m.st.Group {
			m.gs = gs
		}
	}
	if m.gs.Name == "" {
		return fmt.Errorf("shardgen move: the Spec has no group %q", m.st.Group)
	}
	var err error
	if m.srcCS, err = m.serverURL(m.st.Source); err != nil {
		return err
	}
	if m.dstCS, err = m.serverURL(m.st.Target); err != nil {
		return err
	}
	if m.src, err = m.dial(ctx, m.srcCS); err != nil {
		return fmt.Errorf("shardgen move: connecting to source server %q: %w", m.st.Source, scrubErr(err, m.srcCS))
	}
	if m.dst, err = m.dial(ctx, m.dstCS); err != nil {
		return fmt.Errorf("shardgen move: connecting to target server %q: %w", m.st.Target, scrubErr(err, m.dstCS))
	}
	for _, c := range []*pgx.Conn{m.src, m.dst} {
		if err := m.killStragglers(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// dial connects with the move's application_name, by which a later run
// finds (and ends) the sessions of a run that was killed.
func (m *mover) dial(ctx context.Context, cs string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		return nil, errors.New("connection string does not parse")
	}
	cfg.RuntimeParams["application_name"] = moverName(m.st.ID)
	return pgx.ConnectConfig(ctx, cfg)
}

// schemas returns the unquoted schema names of the moving shards.
func (m *mover) schemas() []string {
	var out []string
	for s := m.st.Shards.First; s <= m.st.Shards.Last; s++ {
		out = append(out, runtime.SchemaName(m.st.Group, s))
	}
	return out
}

// setPhase records the phase (and the state) before its work starts.
func (m *mover) setPhase(ctx context.Context, phase string) error {
	st, err := json.Marshal(m.st.State)
	if err != nil {
		return err
	}
	if _, err := m.store.Pool().Exec(ctx, "UPDATE public.shardgen_moves SET phase = $2, state = $3, error = '', updated_at = now() WHERE id = $1", m.st.ID, phase, st); err != nil {
		return fmt.Errorf("shardgen move: recording phase %s: %w", phase, err)
	}
	m.st.Phase = phase
	m.logf("shardgen move: phase")
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
	_, err = m.store.Pool().Exec(ctx, "UPDATE public.shardgen_moves SET state = $2, updated_at = now() WHERE id = $1", m.st.ID, st)
	return err
}

func (m *mover) recordError(err error) {
	if errors.Is(err, ErrStopped) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = m.store.Pool().Exec(ctx, "UPDATE public.shardgen_moves SET error = $2, updated_at = now() WHERE id = $1", m.st.ID, err.Error())
}

func scrubErr(err error, cs string) error {
	pc, perr := pgconn.ParseConfig(cs)
	if perr != nil || pc.Password == "" || !strings.Contains(err.Error(), pc.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pc.Password, "xxxxx"))
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func loadStatus(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id int64) (Status, error) {
	var st Status
	var first, last int
	var state []byte
	err := q.QueryRow(ctx, "SELECT id, grp, first_shard, last_shard, source, target, phase, error, state, started_at, updated_at FROM public.shardgen_moves WHERE id = $1", id).
		Scan(&st.ID, &st.Group, &first, &last, &st.Source, &st.Target, &st.Phase, &st.Error, &state, &st.Started, &st.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("shardgen move: no move %d", id)
	}
	if err != nil {
		return st, err
	}
	st.Shards = runtime.ShardRange{First: runtime.Shard(first), Last: runtime.Shard(last)}
	if err := json.Unmarshal(state, &st.State); err != nil {
		return st, fmt.Errorf("shardgen move: move %d: state: %w", id, err)
	}
	return st, nil
}
