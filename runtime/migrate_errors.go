package runtime

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrSchemaNewer reports that a schema was migrated by a newer Spec
	// than the one given to Migrate (or CheckSchema): its history has
	// versions the Spec lacks, or the Spec's declarative SQL was applied
	// there before and other SQL since. Migrate leaves such a schema
	// unchanged: generated schemas only grow, so the older code keeps
	// working against it (see "Rolling deploys" in the package
	// documentation).
	ErrSchemaNewer = errors.New("schema was migrated by a newer Spec")

	// ErrChangeRejected reports that a group's pending change was applied
	// to none of its shards because it fails on some of them (the
	// preflight: see Migrate).
	ErrChangeRejected = errors.New("change rejected: it fails on some shards of the group, so no shard was changed")

	// ErrNotMigrated reports that a statement ran against a database or
	// shard schema that lacks the relation or schema it names: Migrate
	// has not been run there (or not with this Spec). Run runtime.Migrate
	// at start-up, before serving; runtime.CheckSchema tells without
	// changing anything. The *pgconn.PgError (42P01 undefined_table,
	// 3F000 invalid_schema_name) stays reachable with errors.As.
	ErrNotMigrated = errors.New("schema not migrated: run runtime.Migrate with this Spec first")
)

// MigrateError lists exactly the databases and logical shards a Migrate run
// did not migrate: those whose migration failed, those it never got to
// (their server unreachable, ctx ended), and those of a group whose change
// the preflight rejected. After a failure the run reads again the history
// of every schema that failed while being applied, so a schema whose
// COMMIT landed (or that a concurrent run migrated) is not listed. Each
// entry is a *ShardError naming the group and shard (Group "" and Shard -1
// for a database) and the server. Running Migrate again migrates only
// those: every other schema's history already has every version.
type MigrateError struct {
	Failed []*ShardError // databases first, then groups, in Spec order; shards ascending
	Total  int           // databases and shards in the run
}

// maxErrorKinds is how many distinct causes MigrateError.Error shows.
const maxErrorKinds = 3

// Error names the schemas not migrated as ranges ("group blog shards
// 0-511,768"), then the first distinct causes, each with the schemas it
// applies to.
func (e *MigrateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shardgen migrate: %d of %d schemas not migrated: %s", len(e.Failed), e.Total, where(e.Failed))
	writeKinds(&b, e.Failed)
	return b.String()
}

// writeKinds appends the first maxErrorKinds distinct causes of list.
func writeKinds(b *strings.Builder, list []*ShardError) {
	type kind struct {
		first *ShardError
		all   []*ShardError
	}
	var kinds []*kind
	byKey := map[string]*kind{}
	for _, f := range list {
		k := errorKey(f)
		if byKey[k] == nil {
			byKey[k] = &kind{first: f}
			kinds = append(kinds, byKey[k])
		}
		byKey[k].all = append(byKey[k].all, f)
	}
	// The shards a change fails on matter more than those it was not
	// applied to because of them.
	slices.SortStableFunc(kinds, func(a, b *kind) int {
		return cmp.Compare(rejectedOnly(a.first), rejectedOnly(b.first))
	})
	if len(kinds) == 1 {
		b.WriteString("; error: ")
		b.WriteString(kinds[0].first.Error())
		return
	}
	fmt.Fprintf(b, "; %d distinct errors:", len(kinds))
	for i, k := range kinds {
		if i == maxErrorKinds {
			fmt.Fprintf(b, "\n\t(%d more)", len(kinds)-maxErrorKinds)
			break
		}
		fmt.Fprintf(b, "\n\t%s: %s", where(k.all), k.first.Error())
	}
}

func rejectedOnly(f *ShardError) int {
	var rej *rejectedError
	if errors.As(f.Err, &rej) {
		return 1
	}
	return 0
}

// errorKey is what tells two failures' causes apart: the cause's text
// with the schema's own name taken out, and for a server's error its
// SQLSTATE and constraint.
func errorKey(f *ShardError) string {
	msg := ""
	if f.Err != nil {
		msg = f.Err.Error()
	}
	if f.Group != "" {
		msg = strings.ReplaceAll(msg, SchemaName(f.Group, f.Shard), SchemaToken)
	}
	var pgErr *pgconn.PgError
	if errors.As(f.Err, &pgErr) {
		msg = pgErr.Code + " " + pgErr.ConstraintName + " " + msg
	}
	return msg
}

// where names a list of schemas compactly: "database default; group blog
// shards 0-511,768".
func where(list []*ShardError) string {
	var parts []string
	for i := 0; i < len(list); {
		f := list[i]
		if f.Group == "" {
			parts = append(parts, "database "+f.Server)
			i++
			continue
		}
		var shards []Shard
		j := i
		for ; j < len(list) && list[j].Group == f.Group; j++ {
			shards = append(shards, list[j].Shard)
		}
		noun := "shards "
		if len(shards) == 1 {
			noun = "shard "
		}
		parts = append(parts, "group "+f.Group+" "+noun+shardRanges(shards))
		i = j
	}
	return strings.Join(parts, "; ")
}

// shardRanges writes ascending shards as ranges: "0-511,768,770-771".
func shardRanges(shards []Shard) string {
	var b strings.Builder
	for i := 0; i < len(shards); {
		j := i
		for j+1 < len(shards) && shards[j+1] == shards[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Itoa(int(shards[i])))
		if j > i {
			b.WriteString("-")
			b.WriteString(strconv.Itoa(int(shards[j])))
		}
		i = j + 1
	}
	return b.String()
}

// Unwrap returns the per-schema errors, so errors.Is(err, ErrUnavailable)
// and errors.As(err, &pgErr) look into them.
func (e *MigrateError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f
	}
	return errs
}

// Shards returns the logical shards of group that were not migrated.
func (e *MigrateError) Shards(group string) []Shard { return shardsOf(e.Failed, group) }

// Databases returns the databases that were not migrated.
func (e *MigrateError) Databases() []string { return databasesOf(e.Failed) }

func shardsOf(list []*ShardError, group string) []Shard {
	var out []Shard
	for _, f := range list {
		if f.Group == group && group != "" {
			out = append(out, f.Shard)
		}
	}
	return out
}

func databasesOf(list []*ShardError) []string {
	var out []string
	for _, f := range list {
		if f.Group == "" {
			out = append(out, f.Server)
		}
	}
	return out
}

// SchemaNewerError is what Migrate returns when the only schemas it did not
// bring to the Spec are schemas a newer Spec migrated (ErrSchemaNewer): it
// changed nothing there, and every other schema is migrated. It is the
// expected outcome for the replicas of the previous version during a
// rolling deploy (or for an older binary started later): log it and keep
// running, since generated schemas only grow and every change Migrate
// makes keeps the previous code working. When other schemas failed too,
// Migrate returns a *MigrateError listing these as well.
type SchemaNewerError struct {
	Schemas []*ShardError // in Spec order; each Err says what is newer
	Total   int           // databases and shards in the run
}

// Error names the schemas as ranges and what is newer about the first.
func (e *SchemaNewerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shardgen migrate: %d of %d schemas were migrated by a newer Spec and were left unchanged: %s", len(e.Schemas), e.Total, where(e.Schemas))
	writeKinds(&b, e.Schemas)
	return b.String()
}

// Is makes errors.Is(err, ErrSchemaNewer) true.
func (e *SchemaNewerError) Is(target error) bool { return target == ErrSchemaNewer }

// Unwrap returns the per-schema errors.
func (e *SchemaNewerError) Unwrap() []error {
	errs := make([]error, len(e.Schemas))
	for i, f := range e.Schemas {
		errs[i] = f
	}
	return errs
}

// Shards returns the logical shards of group a newer Spec migrated.
func (e *SchemaNewerError) Shards(group string) []Shard { return shardsOf(e.Schemas, group) }

// Databases returns the databases a newer Spec migrated.
func (e *SchemaNewerError) Databases() []string { return databasesOf(e.Schemas) }

// newerError is the per-schema cause of ErrSchemaNewer.
type newerError struct {
	schema string
	what   string
}

func (e *newerError) Error() string {
	return fmt.Sprintf("%s: %s; left unchanged", ErrSchemaNewer, e.what)
}

func (e *newerError) Unwrap() error { return ErrSchemaNewer }

// rejectedError is the cause for a shard whose group's change passed the
// preflight there but failed it on other shards.
type rejectedError struct {
	group   string
	failing []Shard
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("not changed: the change fails on shards %s of group %s, so no shard of the group was changed (all or nothing)",
		shardRanges(e.failing), e.group)
}

func (e *rejectedError) Unwrap() error { return ErrChangeRejected }

// changeError is the cause for a shard where the preflight failed: the
// server's error with its DETAIL and what to do about it.
type changeError struct {
	err   error
	group string
}

func (e *changeError) Error() string {
	var b strings.Builder
	b.WriteString("the change fails here: ")
	b.WriteString(e.err.Error())
	var pgErr *pgconn.PgError
	if errors.As(e.err, &pgErr) {
		if pgErr.Detail != "" {
			b.WriteString("; DETAIL: ")
			b.WriteString(pgErr.Detail)
		}
		if pgErr.Hint != "" {
			b.WriteString("; HINT: ")
			b.WriteString(pgErr.Hint)
		}
		if todo := changeAdvice(pgErr.Code); todo != "" {
			b.WriteString("; to do: ")
			b.WriteString(todo)
		}
	}
	b.WriteString("; no shard of group ")
	b.WriteString(e.group)
	b.WriteString(" was changed")
	return b.String()
}

func (e *changeError) Unwrap() []error { return []error{ErrChangeRejected, e.err} }

// changeAdvice says what to do about a change that fails on existing data.
func changeAdvice(code string) string {
	switch code {
	case "23505": // unique_violation
		return "the shard's existing rows are not unique in the new unique constraint or index (a column added to rows that exist holds its zero value in all of them); " +
			"make them unique first with an ordinary migration (or add the field without `unique`, fill distinct values, then add `unique`), and migrate again. " +
			"On a sharded table uniqueness holds per shard"
	case "23502": // not_null_violation
		return "the column holds NULLs; fill them with an ordinary migration first, then migrate again"
	case "23503": // foreign_key_violation
		return "existing rows refer to rows that do not exist; fix or delete them with an ordinary migration first, then migrate again"
	case "23514": // check_violation
		return "existing rows violate the check; fix them with an ordinary migration first, then migrate again"
	case "55P03": // lock_not_available
		return "a long transaction holds a lock the change needs (or another Migrate held the schema longer than LockTimeout); retry, or raise MigrateOptions.LockTimeout"
	}
	return ""
}
