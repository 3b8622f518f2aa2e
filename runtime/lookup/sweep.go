package lookup

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shardgen/shardgen/runtime"
)

// pageSize is how many lookup or owner rows Sweep and Check read per
// statement.
const pageSize = 500

// Report is what Sweep or Check found for one global unique field.
type Report struct {
	// Model and Field name the field.
	Model string
	Field string
	// Lookups is the number of lookup rows read.
	Lookups int64
	// Orphans are the lookup rows whose owner does not exist or does not
	// hold the value: found by Check, removed by Sweep (a row whose owner
	// turned out to hold the value once locked is not counted).
	Orphans int64
	// Rows is the number of owner rows read and Missing the rows whose
	// value has no lookup row pointing at them (Check only). A row is
	// missing while its insert is in flight, or when the field became
	// global after the row was written (then the lookup row must be
	// added: insert the rows again, or update them, which claims them).
	Rows    int64
	Missing int64
	// MissingIDs are the IDs of up to 20 missing rows, for a look.
	MissingIDs []int64
}

func (r Report) String() string {
	return fmt.Sprintf("%s.%s: %d lookup rows, %d orphans; %d rows, %d missing a lookup", r.Model, r.Field, r.Lookups, r.Orphans, r.Rows, r.Missing)
}

// SweepAll sweeps each index in turn (the generated SweepLookups).
func SweepAll(ctx context.Context, indexes ...*Index) ([]Report, error) {
	var out []Report
	for _, ix := range indexes {
		rep, err := ix.Sweep(ctx)
		out = append(out, rep)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// CheckAll checks each index in turn (the generated CheckLookups).
func CheckAll(ctx context.Context, indexes ...*Index) ([]Report, error) {
	var out []Report
	for _, ix := range indexes {
		rep, err := ix.Check(ctx)
		out = append(out, rep)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Sweep removes the orphans of the lookup: lookup rows left by an insert
// that crashed or rolled back, or by an update or delete that crashed
// before releasing the old value. It reads every lookup row, shard after
// shard, checks the owners in batches, and removes each orphan under the
// locks claim takes, so that a write in flight is never swept. A job, not
// a request: it visits every shard.
func (ix *Index) Sweep(ctx context.Context) (Report, error) {
	rep := Report{Model: ix.def.Model, Field: ix.def.Field}
	err := ix.eachOrphan(ctx, &rep, func(key any, owner int64) error {
		removed, err := ix.release(ctx, key, owner)
		if removed {
			rep.Orphans++
		}
		return err
	})
	return rep, err
}

// Check reports, without changing anything, the lookup rows and owner rows
// that disagree: orphans (which Sweep removes, and which never make a read
// return a wrong row) and rows whose value no lookup row points at (which
// GetBy cannot find). Writes in flight show as either, briefly. It visits
// every shard twice (the lookup and the model's table).
func (ix *Index) Check(ctx context.Context) (Report, error) {
	rep := Report{Model: ix.def.Model, Field: ix.def.Field}
	if err := ix.eachOrphan(ctx, &rep, func(any, int64) error { rep.Orphans++; return nil }); err != nil {
		return rep, err
	}
	for s := range runtime.Shard(ix.g.Shards()) {
		var after *int64
		for {
			ids, vals, err := ix.ownerPage(ctx, s, after)
			if err != nil {
				return rep, err
			}
			rep.Rows += int64(len(ids))
			if err := ix.checkOwners(ctx, &rep, ids, vals); err != nil {
				return rep, err
			}
			if len(ids) < pageSize {
				break
			}
			last := ids[len(ids)-1]
			after = &last
		}
	}
	return rep, nil
}

// eachOrphan calls fn for every lookup row whose owner is missing or does
// not hold the value (read without locks: fn re-checks under them).
func (ix *Index) eachOrphan(ctx context.Context, rep *Report, fn func(key any, owner int64) error) error {
	for s := range runtime.Shard(ix.g.Shards()) {
		var after any
		for {
			keys, owners, err := ix.lookupPage(ctx, s, after)
			if err != nil {
				return err
			}
			rep.Lookups += int64(len(keys))
			held, err := ix.ownerValues(ctx, owners)
			if err != nil {
				return err
			}
			for i, key := range keys {
				v, ok := held[owners[i]]
				if ok && ix.Key(v) == key {
					continue
				}
				if err := fn(key, owners[i]); err != nil {
					return err
				}
			}
			if len(keys) < pageSize {
				break
			}
			after = keys[len(keys)-1]
		}
	}
	return nil
}

// lookupPage reads up to pageSize lookup rows of shard s after key after
// (nil: from the first).
func (ix *Index) lookupPage(ctx context.Context, s runtime.Shard, after any) ([]any, []int64, error) {
	var rows pgx.Rows
	var err error
	if after == nil {
		rows, err = ix.g.At(s).Query(ctx, ix.qScanFirst, pageSize)
	} else {
		rows, err = ix.g.At(s).Query(ctx, ix.qScanNext, pageSize, after)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read lookup %s.%s: %w", ix.def.Model, ix.def.Field, err)
	}
	defer rows.Close()
	var keys []any
	var owners []int64
	for rows.Next() {
		var k any
		var o int64
		if err := rows.Scan(&k, &o); err != nil {
			return nil, nil, err
		}
		keys = append(keys, ix.Key(k))
		owners = append(owners, o)
	}
	return keys, owners, rows.Err()
}

// ownerValues reads the field's value of the rows ids, one statement per
// owner shard; IDs with no row (or no shard of the group) are absent.
func (ix *Index) ownerValues(ctx context.Context, ids []int64) (map[int64]any, error) {
	byShard := map[runtime.Shard][]int64{}
	for _, id := range ids {
		if s, err := ix.g.ShardOfID(id); err == nil {
			byShard[s] = append(byShard[s], id)
		}
	}
	out := make(map[int64]any, len(ids))
	for s, list := range byShard {
		rows, err := ix.g.At(s).Query(ctx, ix.qHoldsMany, list)
		if err != nil {
			return nil, fmt.Errorf("read rows of %s: %w", ix.def.Model, err)
		}
		for rows.Next() {
			var id int64
			var v any
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ownerPage reads up to pageSize (ID, value) pairs of the model's rows on
// shard s after ID after (nil: from the first).
func (ix *Index) ownerPage(ctx context.Context, s runtime.Shard, after *int64) ([]int64, []any, error) {
	var rows pgx.Rows
	var err error
	if after == nil {
		rows, err = ix.g.At(s).Query(ctx, ix.qOwnersFirst, pageSize)
	} else {
		rows, err = ix.g.At(s).Query(ctx, ix.qOwnersNext, pageSize, *after)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read rows of %s: %w", ix.def.Model, err)
	}
	defer rows.Close()
	var ids []int64
	var vals []any
	for rows.Next() {
		var id int64
		var v any
		if err := rows.Scan(&id, &v); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		vals = append(vals, ix.Key(v))
	}
	return ids, vals, rows.Err()
}

// checkOwners counts the rows among ids (with their keys) whose key's
// lookup row does not point at them, one statement per lookup shard.
func (ix *Index) checkOwners(ctx context.Context, rep *Report, ids []int64, keys []any) error {
	byShard := map[runtime.Shard][]int{}
	for i, k := range keys {
		s := ix.Shard(k)
		byShard[s] = append(byShard[s], i)
	}
	for s, idx := range byShard {
		var arg any
		if _, ok := keys[idx[0]].(string); ok {
			list := make([]string, len(idx))
			for j, i := range idx {
				list[j], _ = keys[i].(string)
			}
			arg = list
		} else {
			list := make([]int64, len(idx))
			for j, i := range idx {
				list[j], _ = keys[i].(int64)
			}
			arg = list
		}
		rows, err := ix.g.At(s).Query(ctx, ix.qFindMany, arg)
		if err != nil {
			return fmt.Errorf("read lookup %s.%s: %w", ix.def.Model, ix.def.Field, err)
		}
		points := map[any]int64{}
		for rows.Next() {
			var k any
			var o int64
			if err := rows.Scan(&k, &o); err != nil {
				rows.Close()
				return err
			}
			points[ix.Key(k)] = o
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, i := range idx {
			if o, ok := points[keys[i]]; !ok || o != ids[i] {
				rep.Missing++
				if len(rep.MissingIDs) < 20 {
					rep.MissingIDs = append(rep.MissingIDs, ids[i])
				}
			}
		}
	}
	return nil
}
