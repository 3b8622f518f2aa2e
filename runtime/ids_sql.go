package runtime

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/shardgen/shardgen/templates"
)

// IDFunctionName and IDSequenceName name the per-shard ID function and its
// sequence, created in every logical shard schema. Generated tables use the
// function as the default of their id column:
//
//	id bigint NOT NULL DEFAULT @schema@.shardgen_next_id()
const (
	IDFunctionName = "shardgen_next_id"
	IDSequenceName = "shardgen_id_seq"
)

// idLockClass is the high word of the advisory lock key of the ID function;
// the low word is the OID of the schema's sequence, unique per database. The
// value spells "shgd", which keeps shardgen's keys apart from small integer
// keys an application may use with pg_advisory_lock(bigint).
const idLockClass = 0x73686764

// idJumpTries bounds how often a call that finds the sequence lagging the
// clock tries to jump it, the tries after idQuickTries each after a 1 ms
// pause (see the template): enough that concurrent first calls on a fresh
// shard all see the jump, few enough that a leaked shared lock costs a
// lagging call at most 5 ms.
const (
	idJumpTries  = 8
	idQuickTries = 3
)

// idFunctionTemplate is parsed on each call rather than cached in a package
// variable: rendering happens once per migration run, and the package keeps
// no global mutable state.
func idFunctionTemplate() (*template.Template, error) {
	return template.New("id_function.sql.tmpl").Option("missingkey=error").ParseFS(templates.FS, "id_function.sql.tmpl")
}

// IDFunctionSQL renders the SQL that installs the per-shard ID function for
// layout l: a sequence @schema@.shardgen_id_seq and a function
// @schema@.shardgen_next_id() returning IDs in l that carry the shard. The
// text still contains SchemaToken and ShardToken; the migrator replaces them
// per logical shard (SchemaToken by the quoted schema, ShardToken by the
// decimal shard number). Re-running it is harmless: the sequence is created
// only if missing and the function is replaced. See the template for why the
// function never returns the same ID twice.
func (l Layout) IDFunctionSQL() (string, error) {
	if err := l.Validate(); err != nil {
		return "", err
	}
	tmpl, err := idFunctionTemplate()
	if err != nil {
		return "", fmt.Errorf("shardgen: parse ID function template: %w", err)
	}
	data := struct {
		Layout       string
		SeqBits      int
		ShardShift   int
		SeqMask      int64
		SeqCount     int64
		EpochMillis  int64
		MaxComposite int64
		LockKey      string
		JumpTries    int
		QuickTries   int
	}{
		Layout:      l.String(),
		SeqBits:     l.SeqBits,
		ShardShift:  l.ShardBits + l.SeqBits,
		SeqMask:     l.MaxSeq(),
		SeqCount:    l.MaxSeq() + 1,
		EpochMillis: l.Epoch.UnixMilli(),
		// The sequence holds ms<<SeqBits|seq; its bound is the last
		// millisecond that keeps IDs positive, so running out is an error
		// from nextval instead of a wrapped, negative or duplicate ID.
		MaxComposite: l.MaxMillis()<<l.SeqBits | l.MaxSeq(),
		JumpTries:    idJumpTries,
		QuickTries:   idQuickTries,
		LockKey:      fmt.Sprintf("(%d::bigint << 32 | '%s.%s'::pg_catalog.regclass::pg_catalog.oid::bigint)", idLockClass, SchemaToken, IDSequenceName),
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("shardgen: render ID function for layout %s: %w", l, err)
	}
	return b.String(), nil
}
