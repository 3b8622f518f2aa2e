package lookup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shardgen/shardgen/runtime"
)

// Column names of every lookup table; gen/ddl creates the tables with them.
const (
	// ValueColumn holds the value (folded, for a fold field); it is the
	// table's primary key, which is what makes the value unique.
	ValueColumn = "value"
	// OwnerColumn holds the ID of the row that owns the value.
	OwnerColumn = "owner_id"
)

// LockTimeout bounds how long a claim waits for the write in flight of the
// row that holds a value (see the package documentation); a claim that
// waits longer fails with the server's lock_not_available error (SQLSTATE
// 55P03). It also ends the only wait that could never end by itself: two
// inserts of rows with two global fields each claiming the value the other
// holds.
const LockTimeout = "10s"

// lockClass is the first key of the advisory locks on owner IDs (the
// two-int4 key space, which does not overlap the one-bigint key space of
// the ID function's locks): "SGLK".
const lockClass = 0x53474c4b

// ErrDuplicate is matched (errors.Is) by every *DuplicateError.
var ErrDuplicate = errors.New("duplicate value of a global unique field")

// DuplicateError reports that another row of the group already holds the
// value of a global unique field. The value itself is not in the message
// (it is often personal, like an email).
type DuplicateError struct {
	// Model and Field name the field: "blogdb.User", "Email".
	Model string
	Field string
	// Owner is the ID of the row that holds the value.
	Owner int64
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s.%s: the value is already held by row %d (unique across the group)", e.Model, e.Field, e.Owner)
}

// Is makes errors.Is(err, ErrDuplicate) true.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// Def describes one lookup: the unique=global field and the tables. The
// generated New passes it; names are unquoted SQL names the generator has
// validated.
type Def struct {
	// Model and Field name the field in errors: "blogdb.User", "Email".
	Model string
	Field string
	// Table is the lookup table (<table>_<column>_lookup), in every shard
	// schema of the group.
	Table string
	// OwnerTable, OwnerID and OwnerColumn are the model's table, its
	// primary-key column and the field's column.
	OwnerTable  string
	OwnerID     string
	OwnerColumn string
	// Fold compares values without case (strings.ToLower of both).
	Fold bool
}

// Index is the lookup of one global unique field over one shard group. It
// is safe for concurrent use.
type Index struct {
	g   *runtime.Group
	def Def
	// On the shard a value hashes to (the lookup table):
	qClaim, qLockRow, qRepoint, qFind, qRelease, qFindMany, qScanFirst, qScanNext *runtime.Query
	// On the owner's shard (the owner table):
	qMint, qLockOwner, qHolds, qCurrent, qHoldsMany, qOwnersFirst, qOwnersNext *runtime.Query
}

// The statements, with %[1]s the quoted lookup table, %[2]s the value
// column, %[3]s the owner column, %[4]s the owner table, %[5]s its ID
// column, %[6]s the field's column, %[7]s the ID function and %[8]s the ID
// sequence; @schema@ is the runtime's schema token.
const (
	claimSQL       = `INSERT INTO @schema@.%[1]s (%[2]s, %[3]s) VALUES ($1, $2) ON CONFLICT (%[2]s) DO NOTHING`
	lockRowSQL     = `SELECT %[3]s FROM @schema@.%[1]s WHERE %[2]s = $1 FOR UPDATE`
	repointSQL     = `UPDATE @schema@.%[1]s SET %[3]s = $2 WHERE %[2]s = $1`
	findSQL        = `SELECT %[3]s FROM @schema@.%[1]s WHERE %[2]s = $1`
	releaseSQL     = `DELETE FROM @schema@.%[1]s WHERE %[2]s = $1 AND %[3]s = $2`
	findManySQL    = `SELECT %[2]s, %[3]s FROM @schema@.%[1]s WHERE %[2]s = ANY($1)`
	scanFirstSQL   = `SELECT %[2]s, %[3]s FROM @schema@.%[1]s ORDER BY %[2]s LIMIT $1`
	scanNextSQL    = `SELECT %[2]s, %[3]s FROM @schema@.%[1]s WHERE %[2]s > $2 ORDER BY %[2]s LIMIT $1`
	mintSQL        = `SELECT s.id, pg_catalog.pg_advisory_xact_lock($1::int4, (((s.id >> 31) # s.id) & 2147483647)::int4)::text FROM (SELECT @schema@.%[7]s() AS id) s`
	lockOwnerSQL   = `SELECT pg_catalog.set_config('lock_timeout', $3, true), pg_catalog.pg_advisory_xact_lock($1::int4, $2::int4)::text FROM @schema@.%[8]s`
	holdsSQL       = `SELECT %[6]s FROM @schema@.%[4]s WHERE %[5]s = $1`
	currentSQL     = `SELECT %[6]s FROM @schema@.%[4]s WHERE %[5]s = $1 FOR UPDATE`
	holdsManySQL   = `SELECT %[5]s, %[6]s FROM @schema@.%[4]s WHERE %[5]s = ANY($1)`
	ownersFirstSQL = `SELECT %[5]s, %[6]s FROM @schema@.%[4]s ORDER BY %[5]s LIMIT $1`
	ownersNextSQL  = `SELECT %[5]s, %[6]s FROM @schema@.%[4]s WHERE %[5]s > $2 ORDER BY %[5]s LIMIT $1`
)

// New prepares the statements of the lookup d on group g (the group of
// d's model, opened with the generated Spec, which creates the tables).
func New(g *runtime.Group, d Def) *Index {
	q := runtime.QuoteIdent
	names := []any{q(d.Table), q(ValueColumn), q(OwnerColumn), q(d.OwnerTable), q(d.OwnerID), q(d.OwnerColumn),
		q(runtime.IDFunctionName), q(runtime.IDSequenceName)}
	p := func(f string) *runtime.Query { return g.Prepare(fmt.Sprintf(f, names...)) }
	return &Index{g: g, def: d,
		qClaim: p(claimSQL), qLockRow: p(lockRowSQL), qRepoint: p(repointSQL), qFind: p(findSQL), qRelease: p(releaseSQL),
		qFindMany: p(findManySQL), qScanFirst: p(scanFirstSQL), qScanNext: p(scanNextSQL),
		qMint: p(mintSQL), qLockOwner: p(lockOwnerSQL), qHolds: p(holdsSQL), qCurrent: p(currentSQL),
		qHoldsMany: p(holdsManySQL), qOwnersFirst: p(ownersFirstSQL), qOwnersNext: p(ownersNextSQL),
	}
}

// Def returns what the index was made from.
func (ix *Index) Def() Def { return ix.def }

// Key is the value as the lookup stores it: folded for a fold field, an
// integer of any size as int64.
func (ix *Index) Key(v any) any {
	switch x := v.(type) {
	case string:
		if ix.def.Fold {
			return strings.ToLower(x)
		}
		return x
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	}
	return v
}

// Holds reports whether held (a value read from an owner row) is the value
// v asked for, as the lookup compares them (with fold, without case).
func (ix *Index) Holds(held, v any) bool { return ix.Key(held) == ix.Key(v) }

// Shard is the logical shard whose lookup table holds key (a Key).
func (ix *Index) Shard(key any) runtime.Shard {
	if s, ok := key.(string); ok {
		return ix.g.ShardOfString(s)
	}
	n, _ := key.(int64)
	return ix.g.ShardOfInt64(n)
}

// lockKey is the second advisory-lock key of owner ID id; mintSQL computes
// the same in SQL.
func lockKey(id int64) int32 { return int32(((id >> 31) ^ id) & 0x7fffffff) }

// Find returns the ID the lookup holds for value v, in one round trip on
// the value's lookup shard. The error wraps runtime.ErrNotFound when there
// is none. The ID is only a candidate: the caller reads the row and checks
// with Holds that it holds v, since a lookup row can be an orphan (see the
// package documentation).
func (ix *Index) Find(ctx context.Context, v any) (int64, error) {
	key := ix.Key(v)
	var id int64
	if err := ix.g.At(ix.Shard(key)).QueryRow(ctx, ix.qFind, key).Scan(&id); err != nil {
		return 0, fmt.Errorf("lookup %s.%s: %w", ix.def.Model, ix.def.Field, err)
	}
	return id, nil
}

// Claim is a value of a global unique field to claim or release for a
// row: the field's index and the value (a string, or an integer).
type Claim struct {
	Index *Index
	Value any
}

// Insert runs the insert of a row with global unique fields on the row's
// shard at: in tx when it is not nil (a transaction on at's shard), else in
// a transaction of its own. It mints the row's ID on the shard and locks
// it (an advisory lock held until the transaction ends), claims every
// value in its lookup (each committed at once, on the value's shard), then
// calls write with the ID to insert the row. It returns the ID, or an
// error matching ErrDuplicate when another row holds one of the values.
func Insert(ctx context.Context, at runtime.Target, tx *runtime.Tx, claims []Claim, write func(on runtime.On, id int64) error) (int64, error) {
	if len(claims) == 0 {
		return 0, errors.New("lookup.Insert: no claims")
	}
	if tx != nil {
		return insertIn(ctx, tx, claims, write)
	}
	var id int64
	err := at.InTx(ctx, func(tx *runtime.Tx) error {
		var err error
		id, err = insertIn(ctx, tx, claims, write)
		return err
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

func insertIn(ctx context.Context, tx *runtime.Tx, claims []Claim, write func(on runtime.On, id int64) error) (int64, error) {
	var id int64
	var locked string
	if err := tx.QueryRow(ctx, claims[0].Index.qMint, int32(lockClass)).Scan(&id, &locked); err != nil {
		return 0, fmt.Errorf("mint the ID: %w", err)
	}
	for i, c := range claims {
		if err := c.Index.claim(ctx, tx, c.Value, id); err != nil {
			releaseOwn(ctx, claims[:i], id)
			return 0, err
		}
	}
	if err := write(runtime.Bind(tx.Target(), tx), id); err != nil {
		releaseOwn(ctx, claims, id)
		return 0, err
	}
	return id, nil
}

// Update runs the update of row id, on its shard at, in tx when it is not
// nil, else in a transaction of its own. It locks the ID (as Insert does)
// and, for every claim whose value differs from the row's current one,
// claims the new value before calling write, which updates the row and
// reports whether it found it. The lookups of the old values are released
// once the update has committed (in tx: after its COMMIT, see
// runtime.Tx.AfterCommit). The error wraps runtime.ErrNotFound when there
// is no row id, and matches ErrDuplicate when another row holds a new value.
func Update(ctx context.Context, at runtime.Target, tx *runtime.Tx, id int64, claims []Claim, write func(on runtime.On) (bool, error)) error {
	var old []Claim
	body := func(tx *runtime.Tx) error {
		var err error
		old, err = updateIn(ctx, tx, id, claims, write)
		return err
	}
	if tx != nil {
		if err := body(tx); err != nil {
			return err
		}
		Release(ctx, tx, id, old...)
		return nil
	}
	if err := at.InTx(ctx, body); err != nil {
		return err
	}
	Release(ctx, nil, id, old...)
	return nil
}

func updateIn(ctx context.Context, tx *runtime.Tx, id int64, claims []Claim, write func(on runtime.On) (bool, error)) ([]Claim, error) {
	if len(claims) == 0 {
		return nil, errors.New("lookup.Update: no claims")
	}
	var locked, timeout string
	if err := tx.QueryRow(ctx, claims[0].Index.qLockOwner, int32(lockClass), lockKey(id), LockTimeout).Scan(&timeout, &locked); err != nil {
		return nil, fmt.Errorf("lock row %d: %w", id, err)
	}
	var old, claimed []Claim
	fail := func(err error) ([]Claim, error) {
		releaseOwn(ctx, claimed, id)
		return nil, err
	}
	for _, c := range claims {
		var cur any
		if err := tx.QueryRow(ctx, c.Index.qCurrent, id).Scan(&cur); err != nil {
			return fail(err)
		}
		if c.Index.Holds(cur, c.Value) {
			continue
		}
		if err := c.Index.claim(ctx, tx, c.Value, id); err != nil {
			return fail(err)
		}
		claimed = append(claimed, c)
		old = append(old, Claim{Index: c.Index, Value: cur})
	}
	found, err := write(runtime.Bind(tx.Target(), tx))
	if err != nil {
		return fail(err)
	}
	if !found {
		return fail(runtime.ErrNotFound)
	}
	return old, nil
}

// Release removes the lookup rows of claims that point at row id, once
// the row no longer holds their values: what Delete does after deleting the
// row (and Update for the old values). In tx (not nil) it runs after
// tx's COMMIT (runtime.Tx.AfterCommit). Each release locks the lookup row,
// then checks the owner under its lock, so a value the row holds again (a
// concurrent update set it back) keeps its lookup. A release that fails
// leaves an orphan, which is harmless (reads verify the owner, the next
// claim of the value reclaims it, Sweep removes it), so the row's delete
// or update is not reported as failed for it.
func Release(ctx context.Context, tx *runtime.Tx, id int64, claims ...Claim) {
	if len(claims) == 0 {
		return
	}
	if tx != nil {
		tx.AfterCommit(func() { Release(context.WithoutCancel(ctx), nil, id, claims...) })
		return
	}
	for _, c := range claims {
		_, _ = c.Index.release(ctx, c.Index.Key(c.Value), id)
	}
}

// releaseOwn removes lookup rows that point at id while the caller holds
// id's lock and knows that the row does not hold the values (its write
// failed): no check of the owner needed, nor possible (it would wait for
// the caller's own lock). Errors leave orphans, which are harmless.
func releaseOwn(ctx context.Context, claims []Claim, id int64) {
	ctx = context.WithoutCancel(ctx)
	for _, c := range claims {
		key := c.Index.Key(c.Value)
		_, _ = c.Index.g.At(c.Index.Shard(key)).Exec(ctx, c.Index.qRelease, key, id)
	}
}

// claim makes the lookup of v point at id: a new lookup row, or, when the
// value has one, the same row re-pointed if it is an orphan (its owner
// does not exist or does not hold the value, checked under the lookup
// row's lock and the owner's), else a *DuplicateError. tx is the
// claimer's transaction (on id's shard).
func (ix *Index) claim(ctx context.Context, tx *runtime.Tx, v any, id int64) error {
	key := ix.Key(v)
	t := ix.g.At(ix.Shard(key))
	tag, err := t.Exec(ctx, ix.qClaim, key, id)
	if err != nil {
		return fmt.Errorf("claim %s.%s: %w", ix.def.Model, ix.def.Field, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// The value has a lookup row: reclaim it if it is an orphan. A row
	// released between the INSERT and the lock is claimed again, a few
	// times at most (each time someone else took and dropped the value).
	for range 8 {
		retry := false
		err := t.InTx(ctx, func(ltx *runtime.Tx) error {
			var owner int64
			err := ltx.QueryRow(ctx, ix.qLockRow, key).Scan(&owner)
			if errors.Is(err, runtime.ErrNotFound) {
				tag, err := ltx.Exec(ctx, ix.qClaim, key, id)
				if err == nil && tag.RowsAffected() == 0 {
					retry = true
				}
				return err
			}
			if err != nil {
				return err
			}
			if owner == id {
				return nil
			}
			held, err := ix.ownerHolds(ctx, tx, owner, key)
			if err != nil {
				return err
			}
			if held {
				return &DuplicateError{Model: ix.def.Model, Field: ix.def.Field, Owner: owner}
			}
			_, err = ltx.Exec(ctx, ix.qRepoint, key, id)
			return err
		})
		if err != nil {
			var dup *DuplicateError
			if errors.As(err, &dup) {
				return err
			}
			return fmt.Errorf("claim %s.%s: %w", ix.def.Model, ix.def.Field, err)
		}
		if !retry {
			return nil
		}
	}
	return fmt.Errorf("claim %s.%s: the value kept changing hands; try again", ix.def.Model, ix.def.Field)
}

// ownerHolds reports whether row id exists and holds key. It first takes
// id's advisory lock on the row's shard, which every write of the row's
// global values holds from before its lookup claim until its commit: so
// it waits for such a write in flight, then reads the committed row. When
// the caller's transaction in (nil outside one) is on the row's shard, the
// check runs in it: the lock is the caller's own when it wrote the row
// (advisory locks are reentrant), and it sees its own uncommitted rows.
func (ix *Index) ownerHolds(ctx context.Context, in *runtime.Tx, id int64, key any) (bool, error) {
	s, err := ix.g.ShardOfID(id)
	if err != nil {
		return false, nil // no row of the group can have this ID
	}
	held := false
	check := func(tx *runtime.Tx) error {
		var timeout, locked string
		if err := tx.QueryRow(ctx, ix.qLockOwner, int32(lockClass), lockKey(id), LockTimeout).Scan(&timeout, &locked); err != nil {
			return fmt.Errorf("wait for row %d: %w", id, err)
		}
		var cur any
		err := tx.QueryRow(ctx, ix.qHolds, id).Scan(&cur)
		if errors.Is(err, runtime.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		held = ix.Key(cur) == key
		return nil
	}
	if in != nil && in.Shard() == s {
		return held, check(in)
	}
	err = ix.g.InTx(ctx, s, check)
	return held, err
}

// release removes the lookup row of key if it points at id and the row
// does not hold key (checked under both locks, as claim does); it reports
// whether it removed it.
func (ix *Index) release(ctx context.Context, key any, id int64) (bool, error) {
	removed := false
	err := ix.g.InTx(ctx, ix.Shard(key), func(ltx *runtime.Tx) error {
		var owner int64
		err := ltx.QueryRow(ctx, ix.qLockRow, key).Scan(&owner)
		if errors.Is(err, runtime.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if owner != id {
			return nil
		}
		held, err := ix.ownerHolds(ctx, nil, id, key)
		if err != nil || held {
			return err
		}
		tag, err := ltx.Exec(ctx, ix.qRelease, key, id)
		removed = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("release %s.%s: %w", ix.def.Model, ix.def.Field, err)
	}
	return removed, nil
}
