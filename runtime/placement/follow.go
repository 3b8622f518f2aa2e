package placement

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/runtime"
)

// Defaults of Options.
const (
	DefaultPoll      = time.Second
	DefaultFenceWait = 10 * time.Second
)

// Options tunes Follow. The zero value is ready to use.
type Options struct {
	// Poll is how often the version is read when no NOTIFY arrives (the
	// LISTEN connection is down, or a notification was lost). Default
	// DefaultPoll.
	Poll time.Duration
	// FenceWait bounds how long a statement that met a fence waits for
	// the move to switch before it fails with runtime.ErrShardMoved.
	// Default DefaultFenceWait.
	FenceWait time.Duration
	// NoListen follows by polling alone, for control databases reached
	// through a proxy that cannot LISTEN (PgBouncer in transaction mode).
	NoListen bool
	// Logger, when set, receives placement changes at Info and reload
	// failures at Warn.
	Logger *slog.Logger
}

// Follower keeps a Router's placement current. Close it before closing the
// Router.
type Follower struct {
	r     *runtime.Router
	store *Store
	url   string
	opts  Options

	mu       sync.Mutex // one reload at a time
	lastLoad time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// Follow makes r follow the placement table on the control database url:
// it installs the tables if missing, seeds them from r's static placement,
// applies the current placement, and then follows changes (NOTIFY, with a
// poll every Options.Poll). It also installs r's placement reloader (a
// statement that meets a fence waits for the switch and is sent again to
// the new server) and a migrate guard (Migrate is refused while a move has
// not switched).
func Follow(ctx context.Context, r *runtime.Router, url string, opts Options) (*Follower, error) {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.FenceWait <= 0 {
		opts.FenceWait = DefaultFenceWait
	}
	st, err := Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := st.Install(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := st.Seed(ctx, r); err != nil {
		st.Close()
		return nil, err
	}
	f := &Follower{r: r, store: st, url: url, opts: opts, done: make(chan struct{})}
	if err := f.Reload(ctx); err != nil {
		st.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	go f.listen(lctx)
	r.SetPlacementReloader(f.reloadFor)
	r.SetMigrateGuard(st.Guard)
	return f, nil
}

// Store returns the follower's placement store.
func (f *Follower) Store() *Store { return f.store }

// Close stops following (the Router keeps the placement it has) and removes
// the hooks from the Router.
func (f *Follower) Close() {
	f.r.SetPlacementReloader(nil)
	f.r.SetMigrateGuard(nil)
	f.cancel()
	<-f.done
	f.store.Close()
}

// Reload reads the placement and applies it if it is newer.
func (f *Follower) Reload(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadLocked(ctx)
}

func (f *Follower) reloadLocked(ctx context.Context) error {
	f.lastLoad = time.Now()
	v, err := f.store.Version(ctx)
	if err != nil {
		return err
	}
	if v <= f.r.PlacementVersion() {
		return nil
	}
	p, err := f.store.Load(ctx)
	if err != nil {
		return err
	}
	if err := f.r.ApplyPlacement(p); err != nil {
		return err
	}
	if f.opts.Logger != nil {
		f.opts.Logger.Info("shardgen placement applied", "version", p.Version)
	}
	return nil
}

// reloadFor is the Router's PlacementReloader.
func (f *Follower) reloadFor(ctx context.Context, seen int64, wait bool) error {
	if !wait {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.r.PlacementVersion() > seen || time.Since(f.lastLoad) < 50*time.Millisecond {
			return nil
		}
		return f.reloadLocked(ctx)
	}
	deadline := time.Now().Add(f.opts.FenceWait)
	for {
		f.mu.Lock()
		var err error
		if f.r.PlacementVersion() <= seen {
			err = f.reloadLocked(ctx)
		}
		f.mu.Unlock()
		if f.r.PlacementVersion() > seen {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("placement: the move did not switch within FenceWait")
			}
			return err
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// listen follows NOTIFY on a dedicated connection, polling every
// Options.Poll as well; a broken connection is re-dialled after a pause.
func (f *Follower) listen(ctx context.Context) {
	defer close(f.done)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		if conn == nil && !f.opts.NoListen {
			c, err := pgx.Connect(ctx, f.url)
			if err == nil {
				if _, err = c.Exec(ctx, "LISTEN "+Channel); err != nil {
					c.Close(context.Background())
				} else {
					conn = c
				}
			}
			if err != nil && f.opts.Logger != nil && ctx.Err() == nil {
				f.opts.Logger.Warn("shardgen placement: LISTEN connection failed; polling", "err", err)
			}
		}
		if conn != nil {
			wctx, cancel := context.WithTimeout(ctx, f.opts.Poll)
			_, err := conn.WaitForNotification(wctx)
			cancel()
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				conn.Close(context.Background())
				conn = nil
			}
		} else {
			t := time.NewTimer(f.opts.Poll)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if err := f.Reload(ctx); err != nil && f.opts.Logger != nil && ctx.Err() == nil {
			f.opts.Logger.Warn("shardgen placement: reload failed", "err", err)
		}
	}
}
