package runtime

import (
	"regexp"
	"strconv"
)

// SchemaToken is replaced, in every SQL text given to Prepare and in every
// Migration, by the quoted schema of the target: `"blog_0007"` for logical
// shard 7 of group blog, `"public"` for a named database. Write
// `SELECT ... FROM @schema@.posts` and the SQL is always schema-qualified.
const SchemaToken = "@schema@"

// ShardToken is replaced by the logical shard number in decimal ("7"); the
// per-shard ID function's DDL uses it.
const ShardToken = "@shard@"

// Shard is a logical shard number of a group, in [0, Shards). Each logical
// shard is one PostgreSQL schema, SchemaName(group, shard).
type Shard int

// identRE is what the runtime accepts as a database, group, server or schema
// name: a lower-case unquoted PostgreSQL identifier. Names are also quoted
// wherever they reach SQL; the check keeps them predictable and safe in
// environment variable names and logs.
var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// maxIdent is PostgreSQL's NAMEDATALEN-1.
const maxIdent = 63

// schemaDigits is the fixed width of the shard number in a schema name.
// DefaultLayout allows at most 8,192 shards, so four digits always suffice.
const schemaDigits = 4

// checkIdent returns a problem description, or "" when name is acceptable.
// maxLen leaves room for suffixes (a group name gets "_nnnn").
func checkIdent(kind, name string, maxLen int) string {
	switch {
	case name == "":
		return kind + " name is empty"
	case len(name) > maxLen:
		return kind + " name " + strconv.Quote(name) + " is longer than " + strconv.Itoa(maxLen) + " bytes"
	case !identRE.MatchString(name):
		return kind + " name " + strconv.Quote(name) + " is not a lower-case identifier (must match ^[a-z_][a-z0-9_]*$)"
	}
	return ""
}

// SchemaName returns the schema of a logical shard: the group name, an
// underscore and the shard number zero-padded to four digits ("blog_0007").
func SchemaName(group string, shard Shard) string {
	s := strconv.Itoa(int(shard))
	for len(s) < schemaDigits {
		s = "0" + s
	}
	return group + "_" + s
}

// QuoteIdent quotes a PostgreSQL identifier (doubling any embedded quote).
// Runtime names are validated identifiers, so this never changes their
// meaning; it exists so SQL is built the same way everywhere.
func QuoteIdent(name string) string {
	b := make([]byte, 0, len(name)+2)
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, name[i])
	}
	b = append(b, '"')
	return string(b)
}
