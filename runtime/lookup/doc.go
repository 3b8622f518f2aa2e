// Package lookup keeps the lookup tables of global unique fields
// (shardgen:"unique=global"): a value unique across every logical shard of
// a group, and the way to find its row without knowing its shard key.
// Generated repositories call it; applications use its errors (ErrDuplicate,
// *DuplicateError) and the reports of SweepLookups and CheckLookups.
//
// # The lookup table
//
// Each global field has a table <table>_<column>_lookup (value primary
// key, owner_id) in every shard schema of the group. The row of a value
// lives on the logical shard the value hashes to (the group's own hash of a
// shard key), not on its owner's shard, so the lookup grows with the data
// and one value is always one round trip away. owner_id is the owner row's
// ID, which carries the owner's logical shard: never a server, so moving
// shards (runtime/move) copies lookup tables like any table and never
// rewrites them. With fold, the value is stored lower-cased
// (strings.ToLower) and compared so; the owner row keeps what was written.
//
// # The protocol, without two-phase commit
//
// The owner row and its lookup rows live on different shards, often on
// different servers, so no single transaction covers them. Two-phase
// commit would (PREPARE TRANSACTION on both), but it needs
// max_prepared_transactions on every server, a coordinator log, and a
// recovery process for the transactions a crash leaves prepared, which
// hold their locks until someone resolves them. Instead, as Vitess's
// consistent lookup vindex does, every write is ordered so that a crash at
// any point leaves at worst a lookup row that points at a row not holding
// its value (an orphan), and orphans are harmless:
//
//  1. Reads never trust the lookup alone. GetBy reads the lookup row, then
//     the owner row by its ID, and returns it only if it holds the value;
//     otherwise it is not found. So an orphan never returns a wrong row.
//  2. Insert writes the lookup row first, then the owner row. It mints the
//     ID on the owner's shard inside the insert's transaction and takes an
//     advisory lock on it (transaction-scoped, held until that transaction
//     ends), claims each value (INSERT ... ON CONFLICT DO NOTHING, committed
//     at once on the value's shard), then inserts the row with that ID and
//     commits. A crash after the claim leaves an orphan: the ID names no row.
//  3. A claim that finds the value taken locks the lookup row (SELECT ...
//     FOR UPDATE), then checks the owner it names under the owner's
//     advisory lock: this waits for the owner's write in flight, if any,
//     and then reads the committed row. If the owner holds the value, the
//     claim fails with a *DuplicateError; if not (it crashed, rolled back,
//     was deleted or changed its value), the lookup row is re-pointed at the
//     new ID: the orphan is reclaimed, and the value is never lost.
//  4. Update of a value claims the new value first (the same claim, under
//     the row's advisory lock), updates the row, and after the commit
//     releases the old value's lookup row. Delete deletes the row, then
//     releases its lookup rows. A release removes a lookup row only if it
//     still points at the row and, checked under both locks, the row no
//     longer holds the value. A crash before the release leaves an orphan.
//  5. Sweep (generated SweepLookups) removes orphans, with the same locks,
//     so a write in flight is never swept; Check (CheckLookups) reports
//     orphans and rows that no lookup row points at.
//
// What makes this correct is the advisory lock: a lookup row only ever
// points at an ID whose writer held the ID's lock on the owner's shard from
// before the lookup row pointed at it until its owner write committed or
// rolled back. A claim that checks the owner under the same lock therefore
// sees the final state of that write, never its middle. Two rows can hold
// one value only if both checks passed, and the second check, made under
// the lookup row's lock, sees the first row.
//
// The cost: Insert of a model with one global field is a transaction (BEGIN,
// mint and lock, claim on the lookup's shard, INSERT, COMMIT) instead of
// one statement; GetBy is two round trips; Update and Delete add a claim
// or a release. BENCHMARKS.md has the measured ratios.
//
// # Transactions
//
// A shard-bound transaction (DB.In<Group>Shard) spans one logical shard; a
// value's lookup row usually lives on another. Inside the transaction,
// Insert, Update and Delete of the transaction-bound repository:
//
//   - hold the row's advisory lock until the transaction ends, so a claim
//     of the same value by anyone else waits for the transaction to commit
//     or roll back (at most LockTimeout, then it fails);
//   - claim new values at once, outside the transaction: the claim is
//     committed even if the transaction later rolls back. The rolled-back
//     claim is then an orphan: reads ignore it, the next claim of the value
//     reclaims it, Sweep removes it. A duplicate is reported at the
//     statement, inside the transaction, like a unique violation;
//   - release old values only after the COMMIT (runtime.Tx.AfterCommit),
//     and only once the row, re-read, no longer holds them.
//
// What a transaction cannot promise: that its claims are undone with it
// (they are orphans until reclaimed or swept), that a GetBy inside it sees
// its own uncommitted insert (the lookup is read outside it; the row read
// that follows runs in it and returns runtime.ErrWrongShard for a row of
// another shard), or that the lookup and the rows agree at every instant
// for readers of the lookup table itself. What it does promise: no two
// committed rows ever hold one value, and GetBy never returns a row that
// does not hold the value asked for.
//
// # Limits
//
// A claim that waits for an owner's write gives up after LockTimeout (two
// inserts whose two global fields each claim the value the other holds
// would otherwise wait for each other on two servers, where no deadlock
// detector sees both). A field made global on a table that already has
// rows has no lookup rows for them: CheckLookups reports them as missing,
// and updating each row (or inserting it again) claims its value.
package lookup
