// Package redisclient compares the two Redis clients shardgen could use,
// github.com/redis/go-redis/v9 and github.com/redis/rueidis, on what
// runtime/shardredis does: a counter increment from 32 concurrent writers
// (HINCRBY on one hot field), a single GET hit, and an MGET of 100 hits.
// A module of its own so the losing client stays out of shardgen's go.mod.
package redisclient

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/shardgen/shardgen/runtime/redistest"
)

func keys100() []string {
	k := make([]string, 100)
	for i := range k {
		k[i] = "obj:" + strconv.Itoa(i)
	}
	return k
}

func seed(b *testing.B, s *redistest.Server) {
	for _, k := range keys100() {
		if _, err := s.Do("SET", k, "value-of-"+k+"-with-some-payload-0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}

func parallel32(b *testing.B, op func() error) {
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGoRedis(b *testing.B) {
	s := redistest.NewWith(b, 1, redistest.Options{Persistence: redistest.None})[0]
	seed(b, s)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: 32})
	defer c.Close()
	b.Run("HINCRBY-32writers", func(b *testing.B) {
		parallel32(b, func() error { return c.HIncrBy(ctx, "pending", "posts|views|1", 1).Err() })
	})
	b.Run("GET", func(b *testing.B) {
		for b.Loop() {
			if err := c.Get(ctx, "obj:7").Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MGET100", func(b *testing.B) {
		k := keys100()
		for b.Loop() {
			if err := c.MGet(ctx, k...).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRueidis(b *testing.B) {
	s := redistest.NewWith(b, 1, redistest.Options{Persistence: redistest.None})[0]
	seed(b, s)
	ctx := context.Background()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("HINCRBY-32writers", func(b *testing.B) {
		parallel32(b, func() error {
			return c.Do(ctx, c.B().Hincrby().Key("pending").Field("posts|views|1").Increment(1).Build()).Error()
		})
	})
	b.Run("GET", func(b *testing.B) {
		for b.Loop() {
			if err := c.Do(ctx, c.B().Get().Key("obj:7").Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MGET100", func(b *testing.B) {
		k := keys100()
		for b.Loop() {
			if err := c.Do(ctx, c.B().Mget().Key(k...).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
