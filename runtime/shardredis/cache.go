package shardredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/shardgen/shardgen/runtime"
)

// CacheSpec describes a cached model of a shard group.
type CacheSpec[K comparable, V any] struct {
	// Name is the model's name in keys ("posts"), a lower-case identifier.
	Name string
	// TTL bounds how long a value stays cached (required, > 0).
	TTL time.Duration
	// ShardOf returns the logical shard of a key (for an ID:
	// runtime.Group.ShardOfID); an error means no row can have the key.
	ShardOf func(K) (runtime.Shard, error)
	// Load reads keys from the database and returns the rows found; a key
	// without a row is left out. Cache calls it once per Get or GetMany,
	// with every key that missed, so a Load that reads the keys of each
	// database server in one round trip makes a GetMany's misses cost one
	// round trip per database server.
	Load func(ctx context.Context, keys []K) (map[K]V, error)
	// Encode and Decode turn a value into the bytes cached and back.
	// Default: encoding/json.
	Encode func(V) ([]byte, error)
	Decode func([]byte) (V, error)
	// KeyString renders a key in the Redis key. Default: decimal for
	// integers, the string itself for strings, fmt's %v otherwise.
	KeyString func(K) string
	// LeaseTTL bounds how long a miss holds the right to fill its key
	// (default 10s): a load slower than that does not fill.
	LeaseTTL time.Duration
}

// Cache is a read-through object cache of one model in the Redis servers of
// its shard group (the Building to Scale seed's get_multi filled by
// in_bulk), with invalidation after commit that never leaves a stale value.
// Safe for concurrent use.
//
// # Keys and values
//
// A row's key is Group.Key(shard, "o", name, key) on its shard's Redis
// server. The value is "v" followed by the encoded row, or, while a reader
// that missed is loading it, "l" followed by that reader's lease token.
//
// # No stale value survives a write: leases
//
// The documented race: reader R misses, reads the old row, writer W
// commits and invalidates, then R stores the old row, which stays until its
// TTL. Cache prevents it with leases (as in Facebook's "Scaling Memcache",
// section 3.2.1), chosen over the alternatives because it needs nothing
// from the table: a version check needs a version column and a comparison
// on every fill, and a tombstone alone must outlive the slowest reader and
// still blocks fills for its whole life.
//
//   - A miss takes a lease before reading the database: SET key "l"+token
//     NX PX LeaseTTL, with a random token. Only a miss that got the lease
//     fills; a reader finding another's lease reads the database and does
//     not fill.
//   - A fill is a script that stores the value only if the key still holds
//     the same lease: GET key == "l"+token, then SET key "v"+value PX TTL.
//   - Invalidation (after the commit) deletes the key, and with it any
//     lease. A reader that took its lease before the delete can no longer
//     fill; a reader that takes a lease after the delete read the database
//     after the commit, so what it stores is the new row.
//
// In this process, concurrent misses of one key share one load
// (stampede protection), and invalidating a key forgets a load in flight,
// so a Get after a committed write never joins a load that started before
// it.
//
// # Failures
//
// A Redis server that is down, frozen past IOTimeout or loading makes
// Get and GetMany read the database (and not fill), never fail. An
// invalidation that cannot reach its server is retried in the background
// until it succeeds or TTL has passed since the write (by then the value
// has expired anyway); only if this process dies in that window can an old
// value be served, until its TTL.
type Cache[K comparable, V any] struct {
	rdb  *Group
	spec CacheSpec[K, V]

	mu      sync.Mutex
	flights map[string]*flight[V]

	// testAfterLease, when set, runs after a miss took its leases and
	// before the database is read; testAfterLoad after the read and
	// before the fill.
	testAfterLease, testAfterLoad func(keys []K)
}

type flight[V any] struct {
	done  chan struct{}
	val   V
	found bool
	err   error
}

// NewCache returns the cache of one model of shard group group.
func NewCache[K comparable, V any](rdb *Redis, group string, spec CacheSpec[K, V]) (*Cache[K, V], error) {
	g, err := rdb.Group(group)
	if err != nil {
		return nil, err
	}
	var p problems
	if msg := checkName("cache", spec.Name); msg != "" {
		p.add("%s", msg)
	}
	if spec.TTL <= 0 {
		p.add("cache %q: TTL must be positive", spec.Name)
	}
	if spec.ShardOf == nil || spec.Load == nil {
		p.add("cache %q: ShardOf and Load are required", spec.Name)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if spec.Encode == nil {
		spec.Encode = func(v V) ([]byte, error) { return json.Marshal(v) }
	}
	if spec.Decode == nil {
		spec.Decode = func(b []byte) (V, error) {
			var v V
			err := json.Unmarshal(b, &v)
			return v, err
		}
	}
	if spec.KeyString == nil {
		spec.KeyString = func(k K) string {
			switch x := any(k).(type) {
			case int64:
				return strconv.FormatInt(x, 10)
			case int:
				return strconv.Itoa(x)
			case string:
				return x
			}
			return fmt.Sprint(k)
		}
	}
	if spec.LeaseTTL <= 0 {
		spec.LeaseTTL = 10 * time.Second
	}
	return &Cache[K, V]{rdb: g, spec: spec, flights: map[string]*flight[V]{}}, nil
}

// item is one key of a call, resolved to its shard, Redis key and server.
type item[K comparable] struct {
	key   K
	shard runtime.Shard
	rkey  string
	srv   *Server
	token string // the lease taken, "" if none
}

func (c *Cache[K, V]) item(k K) (item[K], error) {
	s, err := c.spec.ShardOf(k)
	if err != nil {
		return item[K]{}, err
	}
	srv := c.rdb.ServerOf(s)
	if srv == nil {
		return item[K]{}, fmt.Errorf("%w: shard %d is outside group %s", runtime.ErrNotFound, s, c.rdb.name)
	}
	return item[K]{key: k, shard: s, rkey: c.rdb.Key(s, "o", c.spec.Name, c.spec.KeyString(k)), srv: srv}, nil
}

// Get returns the row with key k: from Redis on a hit, otherwise from the
// database (filling the cache when its lease allows). A missing row is an
// error matching runtime.ErrNotFound.
func (c *Cache[K, V]) Get(ctx context.Context, k K) (V, error) {
	var zero V
	it, err := c.item(k)
	if err != nil {
		return zero, err
	}
	if cl, err := it.srv.Client(); err == nil {
		b, err := cl.Do(ctx, cl.B().Get().Key(it.rkey).Build()).AsBytes()
		if err == nil && len(b) > 0 && b[0] == 'v' {
			if v, err := c.spec.Decode(b[1:]); err == nil {
				return v, nil
			}
		}
	}
	m, err := c.load(ctx, []item[K]{it})
	if err != nil {
		return zero, err
	}
	v, ok := m[k]
	if !ok {
		return zero, fmt.Errorf("%w: %s %s", runtime.ErrNotFound, c.spec.Name, c.spec.KeyString(k))
	}
	return v, nil
}

// GetMany returns the rows of keys that exist: one MGET per Redis server
// (in parallel), then, for the misses, one lease script per Redis server,
// one Load for all of them and one fill script per Redis server. Keys whose
// row does not exist are absent from the map.
func (c *Cache[K, V]) GetMany(ctx context.Context, keys []K) (map[K]V, error) {
	out := make(map[K]V, len(keys))
	bySrv := map[*Server][]item[K]{}
	seen := make(map[K]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		it, err := c.item(k)
		if err != nil {
			if errors.Is(err, runtime.ErrNotFound) {
				continue
			}
			return nil, err
		}
		bySrv[it.srv] = append(bySrv[it.srv], it)
	}
	var (
		mu     sync.Mutex
		misses []item[K]
		wg     sync.WaitGroup
	)
	for srv, items := range bySrv {
		wg.Go(func() {
			var got []rueidis.RedisMessage
			cl, err := srv.Client()
			if err == nil {
				rkeys := make([]string, len(items))
				for i, it := range items {
					rkeys[i] = it.rkey
				}
				got, err = cl.Do(ctx, cl.B().Mget().Key(rkeys...).Build()).ToArray()
			}
			mu.Lock()
			defer mu.Unlock()
			for i, it := range items {
				if err == nil && i < len(got) {
					if b, e := got[i].AsBytes(); e == nil && len(b) > 0 && b[0] == 'v' {
						if v, e := c.spec.Decode(b[1:]); e == nil {
							out[it.key] = v
							continue
						}
					}
				}
				misses = append(misses, it)
			}
		})
	}
	wg.Wait()
	if len(misses) == 0 {
		return out, nil
	}
	m, err := c.load(ctx, misses)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		out[k] = v
	}
	return out, nil
}

// load reads missed items from the database, sharing loads in flight in
// this process, taking leases first and filling after.
func (c *Cache[K, V]) load(ctx context.Context, items []item[K]) (map[K]V, error) {
	out := make(map[K]V, len(items))
	var mine []item[K]
	var waits []*flight[V]
	var waitKeys []K
	own := map[string]*flight[V]{}
	c.mu.Lock()
	for _, it := range items {
		if f, ok := c.flights[it.rkey]; ok {
			waits = append(waits, f)
			waitKeys = append(waitKeys, it.key)
			continue
		}
		f := &flight[V]{done: make(chan struct{})}
		c.flights[it.rkey] = f
		own[it.rkey] = f
		mine = append(mine, it)
	}
	c.mu.Unlock()

	var loadErr error
	if len(mine) > 0 {
		c.lease(ctx, mine)
		if c.testAfterLease != nil {
			c.testAfterLease(keysOf(mine))
		}
		m, err := c.spec.Load(ctx, keysOf(mine))
		loadErr = err
		if err == nil {
			if c.testAfterLoad != nil {
				c.testAfterLoad(keysOf(mine))
			}
			c.fill(ctx, mine, m)
		}
		c.mu.Lock()
		for _, it := range mine {
			f := own[it.rkey]
			f.val, f.found = m[it.key]
			f.err = err
			if c.flights[it.rkey] == f {
				delete(c.flights, it.rkey)
			}
			close(f.done)
		}
		c.mu.Unlock()
		for k, v := range m {
			out[k] = v
		}
	}
	for i, f := range waits {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			if loadErr == nil {
				loadErr = f.err
			}
			continue
		}
		if f.found {
			out[waitKeys[i]] = f.val
		}
	}
	if loadErr != nil {
		return nil, loadErr
	}
	return out, nil
}

func keysOf[K comparable](items []item[K]) []K {
	ks := make([]K, len(items))
	for i, it := range items {
		ks[i] = it.key
	}
	return ks
}

// leaseScript: KEYS = the missed keys; ARGV = {lease ttl ms, token...}.
// Sets each key to its lease when the key does not exist; returns 1 for each
// lease taken, 0 otherwise.
var leaseScript = rueidis.NewLuaScript(`
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('SET', k, 'l' .. ARGV[i+1], 'NX', 'PX', ARGV[1]) then out[i] = 1 else out[i] = 0 end
end
return out`)

// fillScript: KEYS = keys; ARGV = {ttl ms, token1, value1, token2, ...}.
// Stores each value only where the key still holds the same lease.
var fillScript = rueidis.NewLuaScript(`
local n = 0
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == 'l' .. ARGV[2*i] then
    redis.call('SET', k, 'v' .. ARGV[2*i+1], 'PX', ARGV[1])
    n = n + 1
  end
end
return n`)

// lease takes a lease for each item, one script per Redis server; items
// whose server fails, or whose key another reader holds, get none.
func (c *Cache[K, V]) lease(ctx context.Context, items []item[K]) {
	bySrv := map[*Server][]int{}
	for i, it := range items {
		bySrv[it.srv] = append(bySrv[it.srv], i)
	}
	var wg sync.WaitGroup
	for srv, idx := range bySrv {
		wg.Go(func() {
			cl, err := srv.Client()
			if err != nil {
				return
			}
			keys := make([]string, len(idx))
			args := []string{strconv.FormatInt(c.spec.LeaseTTL.Milliseconds(), 10)}
			tokens := make([]string, len(idx))
			for j, i := range idx {
				keys[j] = items[i].rkey
				tokens[j] = newToken()
				args = append(args, tokens[j])
			}
			got, err := leaseScript.Exec(ctx, cl, keys, args).AsIntSlice()
			if err != nil {
				return
			}
			for j, i := range idx {
				if j < len(got) && got[j] == 1 {
					items[i].token = tokens[j]
				}
			}
		})
	}
	wg.Wait()
}

// fill stores the loaded rows under the leases still held, one script per
// Redis server. Errors are dropped: a value not filled is only a miss.
func (c *Cache[K, V]) fill(ctx context.Context, items []item[K], rows map[K]V) {
	bySrv := map[*Server][]item[K]{}
	for _, it := range items {
		if it.token == "" {
			continue
		}
		if _, ok := rows[it.key]; !ok {
			continue // not found: the lease expires by itself
		}
		bySrv[it.srv] = append(bySrv[it.srv], it)
	}
	ttl := strconv.FormatInt(c.spec.TTL.Milliseconds(), 10)
	var wg sync.WaitGroup
	for srv, its := range bySrv {
		wg.Go(func() {
			cl, err := srv.Client()
			if err != nil {
				return
			}
			keys := make([]string, 0, len(its))
			args := []string{ttl}
			for _, it := range its {
				b, err := c.spec.Encode(rows[it.key])
				if err != nil {
					continue
				}
				keys = append(keys, it.rkey)
				args = append(args, it.token, string(b))
			}
			_ = fillScript.Exec(ctx, cl, keys, args).Error()
		})
	}
	wg.Wait()
}

func newToken() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Invalidate deletes the keys' cached values (and leases), one DEL per
// Redis server, and forgets this process's loads of them in flight. Call
// it after the write committed: InvalidateAfter does that for a
// transaction. A server that cannot be reached is retried in the
// background (see Cache); the error says so.
func (c *Cache[K, V]) Invalidate(ctx context.Context, keys ...K) error {
	bySrv := map[*Server][]string{}
	c.mu.Lock()
	for _, k := range keys {
		it, err := c.item(k)
		if err != nil {
			continue // no row can have this key: nothing cached
		}
		delete(c.flights, it.rkey)
		bySrv[it.srv] = append(bySrv[it.srv], it.rkey)
	}
	c.mu.Unlock()
	var errs []error
	for srv, rkeys := range bySrv {
		if err := del(ctx, srv, rkeys); err != nil {
			errs = append(errs, err)
			go c.retryDelete(srv, rkeys, time.Now().Add(c.spec.TTL))
		}
	}
	return errors.Join(errs...)
}

func del(ctx context.Context, srv *Server, rkeys []string) error {
	cl, err := srv.Client()
	if err != nil {
		return err
	}
	return wrap(srv, cl.Do(ctx, cl.B().Del().Key(rkeys...).Build()).Error())
}

func (c *Cache[K, V]) retryDelete(srv *Server, rkeys []string, until time.Time) {
	wait := 50 * time.Millisecond
	for time.Now().Before(until) {
		time.Sleep(wait)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := del(ctx, srv, rkeys)
		cancel()
		if err == nil {
			return
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// InvalidateAfter invalidates the keys once tx has committed (and also
// after a COMMIT whose outcome is unknown): the write's own invalidation,
// for writes inside a shard-bound transaction.
func (c *Cache[K, V]) InvalidateAfter(tx *runtime.Tx, keys ...K) {
	tx.AfterCommit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Invalidate(ctx, keys...) // retried in the background on failure
	})
}
