package runtime_test

import (
	"fmt"
	"time"

	"github.com/shardgen/shardgen/runtime"
)

// A Generator mints 41/11/12 IDs in the process: each carries the time,
// the worker number and a sequence.
func ExampleNewGenerator() {
	g, err := runtime.NewGenerator(runtime.GeneratorConfig{Worker: 7})
	if err != nil {
		panic(err)
	}
	a, _ := g.Next()
	b, _ := g.Next()
	l := g.Layout()
	fmt.Println(l.ShardBits, l.SeqBits, l.Shard(a), b > a, time.Since(l.Time(b)) < time.Minute)
	// Output: 11 12 7 true true
}

// The ID layout travels with the Spec: Open gives every group the Spec's
// layout, so Group.ShardOfID decodes the IDs its shards mint with it.
func ExampleSpec_IDLayout() {
	spec := runtime.Spec{Groups: []runtime.GroupSpec{{Name: "blog", Shards: 16}}}
	fmt.Println(spec.IDLayout())
	spec.Layout = runtime.Layout{TimeBits: 41, ShardBits: 11, SeqBits: 12, Epoch: runtime.DefaultEpoch()}
	id, _ := spec.IDLayout().ComposeMillis(1000, 5, 3)
	fmt.Println(spec.IDLayout().Shard(id), runtime.DefaultLayout().Shard(id))
	// Output:
	// 41/13/10@2024-01-01T00:00:00Z
	// 5 20
}
