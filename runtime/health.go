package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Ping checks that the server answers: it takes a connection as every call
// does (within PoolConfig.AcquireTimeout, at once while the server is known
// down) and runs an empty statement. The error names the server and matches
// ErrPoolTimeout, ErrUnavailable or ErrMisconfigured as a call's would.
func (s *Server) Ping(ctx context.Context) error {
	sp := s.pool
	c, err := sp.acquire(ctx)
	if err != nil {
		return fmt.Errorf("server %s: %w", s, err)
	}
	err = c.Conn().Ping(ctx)
	if err != nil {
		err = fmt.Errorf("server %s: %w", s, sp.classify(ctx, c.Conn(), err))
	}
	sp.release(c)
	return err
}

// Ping checks every physical server of the Router at once (a readiness
// check): nil when all answer, else the errors of those that do not,
// joined, each naming its server.
func (r *Router) Ping(ctx context.Context) error {
	servers := r.distinctServers()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.Ping(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// distinctServers returns one Server per pool, in config order.
func (r *Router) distinctServers() []*Server {
	seen := map[*serverPool]bool{}
	var out []*Server
	add := func(s *Server) {
		if !seen[s.pool] {
			seen[s.pool] = true
			out = append(out, s)
		}
	}
	for _, d := range r.dbList {
		add(d.server)
	}
	for _, g := range r.groupList {
		for _, s := range g.servers {
			add(s)
		}
	}
	return out
}

// PoolStats is a snapshot of one physical server's pool (one connection
// string). The names in brackets are the metric names the fields are meant
// to be exported as (Prometheus style; an OpenTelemetry exporter uses them
// with "." for "_"), labelled with addr and, per user, database or group
// and server:
//
//	MaxConns        shardgen_pool_max_conns                 gauge
//	TotalConns      shardgen_pool_conns                     gauge (open connections)
//	IdleConns       shardgen_pool_idle_conns                gauge
//	AcquiredConns   shardgen_pool_acquired_conns            gauge (in use)
//	Acquires        shardgen_pool_acquires_total            counter (connections taken)
//	AcquireWait     shardgen_pool_acquire_wait_seconds_total counter (time spent taking them)
//	NewConns        shardgen_pool_new_conns_total           counter (dials)
//	Timeouts        shardgen_pool_timeouts_total            counter (ErrPoolTimeout)
//	Trips           shardgen_pool_breaker_trips_total       counter (server found down)
//	FastFails       shardgen_pool_fast_fails_total          counter (calls failed without dialling)
//	Down            shardgen_pool_down                      gauge (1 while the breaker is open)
type PoolStats struct {
	PoolInfo
	MaxConns      int32
	TotalConns    int32
	IdleConns     int32
	AcquiredConns int32
	Acquires      int64
	AcquireWait   time.Duration
	NewConns      int64
	Timeouts      int64
	Trips         int64
	FastFails     int64
	Down          bool
}

// Stats returns a snapshot of every physical server's pool, in config
// order (databases first, then each group's servers).
func (r *Router) Stats() []PoolStats {
	var out []PoolStats
	for _, s := range r.distinctServers() {
		out = append(out, s.pool.stats())
	}
	return out
}

func (sp *serverPool) stats() PoolStats {
	st := sp.pool.Stat()
	return PoolStats{
		PoolInfo:      sp.info,
		MaxConns:      st.MaxConns(),
		TotalConns:    st.TotalConns(),
		IdleConns:     st.IdleConns(),
		AcquiredConns: st.AcquiredConns(),
		Acquires:      st.AcquireCount(),
		AcquireWait:   st.AcquireDuration(),
		NewConns:      st.NewConnsCount(),
		Timeouts:      sp.timeouts.Load(),
		Trips:         sp.trips.Load(),
		FastFails:     sp.fastFails.Load(),
		Down:          sp.down.Load() != nil,
	}
}
