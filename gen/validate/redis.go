package validate

import (
	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
)

// redis checks the Redis features of m: counter fields and the cache. Both
// live in the Redis servers of the model's shard group, routed by the
// row's logical shard, so both need a sharded model.
func (c *checker) redis(m *model.Model) {
	if m.Cache != nil && m.Placement != model.InGroup {
		c.d.Errorf(m.Cache.Pos, "//shardgen:cache on model %s, which is on %s: only a sharded model (//shardgen:shard) can be cached, in the Redis servers of its shard group", m.GoName, where(m))
	}
	for _, f := range m.Counters() {
		pos := f.CounterPos
		switch {
		case m.Placement != model.InGroup:
			c.d.Errorf(pos, "counter field %s.%s: model %s is on %s; counters are buffered in the Redis servers of a shard group, so only a sharded model (//shardgen:shard) can have them", m.GoName, f.GoName, m.GoName, where(m))
		case f == m.PK:
			c.d.Errorf(pos, "counter field %s.%s is the primary key; a counter is a plain int64 column the flusher adds to", m.GoName, f.GoName)
		case f == m.ShardKey:
			c.d.Errorf(pos, "counter field %s.%s is the shard key; a counter is a plain int64 column the flusher adds to", m.GoName, f.GoName)
		case f.Type != nil && (f.Type.Kind != model.Int64 || f.Type.Nullable || f.Type.Slice):
			c.d.Errorf(pos, "counter field %s.%s has type %s; a counter is an int64 (bigint NOT NULL)", m.GoName, f.GoName, f.Type.Go)
		case f.Unique:
			c.d.Errorf(pos, "counter field %s.%s is also unique; a counter changes by increments, which a unique constraint would make fail at flush time", m.GoName, f.GoName)
		}
		for _, r := range m.Relations {
			if r.Field == f {
				c.d.Errorf(pos, "counter field %s.%s is also a ref=; a reference is not incremented", m.GoName, f.GoName)
			}
		}
	}
	if m.Group != nil && m.Group.HasCounters() && m.Table == ddl.FlushesTable {
		c.d.Errorf(m.TablePos, "table %q of model %s is the table runtime/shardredis records counter flushes in, in every shard of group %q (which has counters); choose another table name", m.Table, m.GoName, m.Group.Name)
	}
}
