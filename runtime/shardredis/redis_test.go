package shardredis

import (
	"context"
	"errors"
	"testing"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/redistest"
)

// openRedis starts n throwaway Redis servers, splits group "blog" (16
// shards) over them in equal ranges and adds a named connection on the
// last one.
func openRedis(t *testing.T, n int, opts redistest.Options) (*Redis, []*redistest.Server) {
	t.Helper()
	ss := redistest.NewWith(t, n, opts)
	cfg := Config{Groups: map[string][]runtime.ServerConfig{}, Named: map[string]string{"aggregates": ss[n-1].URL()}}
	per := 16 / n
	for i, s := range ss {
		last := (i+1)*per - 1
		if i == n-1 {
			last = 15
		}
		cfg.Groups["blog"] = append(cfg.Groups["blog"], runtime.ServerConfig{
			Name: s.Name(), URL: s.URL(), Shards: runtime.ShardRange{First: runtime.Shard(i * per), Last: runtime.Shard(last)}.String(),
		})
	}
	r, err := Open(cfg, testSpec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, ss
}

func TestRoutingByLogicalShard(t *testing.T) {
	r, ss := openRedis(t, 3, redistest.Options{Persistence: redistest.None, Password: "pw0rd"})
	g, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Keys of one logical shard always reach the server owning its range,
	// whatever the key: write many keys per shard, then look for each key
	// on every server directly.
	for sh := runtime.Shard(0); sh < 16; sh++ {
		for _, id := range []string{"1", "2", "post:42", "x"} {
			srv := g.ServerOf(sh)
			c, err := srv.Client()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Do(ctx, c.B().Set().Key(g.Key(sh, id)).Value(srv.Name()).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, s := range ss {
		for sh := runtime.Shard(0); sh < 16; sh++ {
			got, err := s.Do("GET", g.Key(sh, "post:42"))
			if err != nil {
				t.Fatal(err)
			}
			owner := int(sh) / 5
			if owner > 2 {
				owner = 2
			}
			if (got != "") != (i == owner) {
				t.Errorf("shard %d key on %s = %q; owner is %s", sh, s.Name(), got, ss[owner].Name())
			}
		}
		if n, _ := s.Do("DBSIZE"); (i < 2 && n != "20") || (i == 2 && n != "24") {
			t.Errorf("%s holds %s keys", s.Name(), n)
		}
	}
	// The same ID always maps to the same shard and server (through the
	// runtime's hash, exactly as for the database).
	if g.ServerOf(-1) != nil || g.ServerOf(16) != nil {
		t.Error("out-of-range shard has a server")
	}
	agg, err := r.Named("aggregates")
	if err != nil {
		t.Fatal(err)
	}
	if agg.Addr() != ss[2].Addr()+"/0" {
		t.Errorf("named connection at %s", agg.Addr())
	}
	if _, err := r.Named("agregates"); err == nil || err.Error() != `shardgen redis: no named connection "agregates"; did you mean "aggregates"?` {
		t.Errorf("got %v", err)
	}
	if _, err := r.Group("users"); err == nil || err.Error() != `shardgen redis: group "users" has no Redis servers configured (set Config.Groups["users"], or SHARDGEN_REDIS_GROUP_USERS_SERVERS)` {
		t.Errorf("got %v", err)
	}
}

func TestServerDownFailsFastAndRecovers(t *testing.T) {
	r, ss := openRedis(t, 1, redistest.Options{Password: "pw0rd"})
	g, _ := r.Group("blog")
	srv := g.ServerOf(0)
	if err := ss[0].Stop(); err != nil {
		t.Fatal(err)
	}
	_, err := srv.Client()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("client of a stopped server: %v, want ErrUnavailable", err)
	}
	if err := ss[0].Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for {
		c, err := srv.Client()
		if err == nil {
			if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
	}
}
