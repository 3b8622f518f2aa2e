package annotations

import (
	"fmt"
	"go/token"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// base is where the test lines start: column 1 of line 7, as a directive in
// a doc comment at top level, at byte 100 of models.go.
var base = token.Position{Filename: "models.go", Line: 7, Column: 1, Offset: 100}

// p returns the position of byte off of a line starting at base.
func p(off int) token.Position { return at(base, off) }

// render formats errors as "col: msg", after checking that every error is on
// the test line and that its Offset agrees with its Column.
func render(t *testing.T, start token.Position, errs []Error) []string {
	t.Helper()
	var out []string
	for _, e := range errs {
		if e.Pos.Filename != start.Filename || e.Pos.Line != start.Line {
			t.Errorf("error %q at %v, not on line %v", e.Msg, e.Pos, start)
		}
		if e.Pos.Offset-start.Offset != e.Pos.Column-start.Column {
			t.Errorf("error %q: offset %d and column %d disagree (start %v)", e.Msg, e.Pos.Offset, e.Pos.Column, start)
		}
		out = append(out, fmt.Sprintf("%d: %s", e.Pos.Column, e.Msg))
	}
	return out
}

var directiveOKTests = []struct {
	line string
	want Directive
}{
	{"//shardgen:database analytics",
		&Database{Pos: base, Name: Ident{"analytics", p(20)}}},
	{"//shardgen:group blog shards=16",
		&Group{Pos: base, Name: Ident{"blog", p(17)}, Shards: 16, ShardsPos: p(29)}},
	{"//shardgen:group blog_v2 shards=8192",
		&Group{Pos: base, Name: Ident{"blog_v2", p(17)}, Shards: 8192, ShardsPos: p(32)}},
	// Not a power of two: that is the validator's call, the value parses.
	{"//shardgen:group g shards=3",
		&Group{Pos: base, Name: Ident{"g", p(17)}, Shards: 3, ShardsPos: p(26)}},
	{"//shardgen:default",
		&Default{Pos: base}},
	{"//shardgen:default table=people",
		&Default{Pos: base, Table: &Ident{"people", p(25)}}},
	{"//shardgen:partition analytics",
		&Partition{Pos: base, Database: Ident{"analytics", p(21)}}},
	{"//shardgen:partition analytics table=page_views",
		&Partition{Pos: base, Database: Ident{"analytics", p(21)}, Table: &Ident{"page_views", p(37)}}},
	{"//shardgen:shard blog key=AuthorID",
		&Shard{Pos: base, Group: Ident{"blog", p(17)}, Key: Ident{"AuthorID", p(26)}}},
	{"//shardgen:cache ttl=90s",
		&Cache{Pos: base, TTL: 90 * time.Second, TTLPos: p(21)}},
	// Options in any order; runs of spaces and tabs separate words;
	// trailing white space is ignored.
	{"//shardgen:shard\tblog  table=posts key=authorID \t",
		&Shard{Pos: base, Group: Ident{"blog", p(17)}, Key: Ident{"authorID", p(39)}, Table: &Ident{"posts", p(29)}}},
}

func TestParseDirectiveOK(t *testing.T) {
	tests := directiveOKTests
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, errs := ParseDirective(tt.line, base)
			if len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDirective(%q) (-want +got):\n%s", tt.line, diff)
			}
			if got.At() != base {
				t.Errorf("At() = %v, want %v", got.At(), base)
			}
		})
	}
}

var directiveErrorTests = []struct {
	line string
	want []string // "column: message"
}{
	// Unknown directives, with and without a suggestion.
	{"//shardgen:defualt", []string{`12: unknown directive "defualt"; did you mean //shardgen:default?`}},
	{"//shardgen:Default", []string{`12: unknown directive "Default"; did you mean //shardgen:default?`}},
	{"//shardgen:partiton analytics", []string{`12: unknown directive "partiton"; did you mean //shardgen:partition?`}},
	{"//shardgen:sharded blog key=A", []string{`12: unknown directive "sharded"; did you mean //shardgen:shard?`}},
	{"//shardgen:groupblog shards=4", []string{`12: unknown directive "groupblog"; did you mean //shardgen:group?`}},
	{"//shardgen:default,table=x", []string{`12: unknown directive "default,table=x"; did you mean //shardgen:default?`}},
	{"//shardgen:model", []string{`12: unknown directive "model" (want database, group, default, partition, shard or cache)`}},
	{"//shardgen:", []string{`12: missing directive after //shardgen: (want database, group, default, partition, shard or cache)`}},
	{"//shardgen:   ", []string{`12: missing directive after //shardgen: (want database, group, default, partition, shard or cache)`}},
	{"//shardgen: default", []string{`12: space after "//shardgen:": write //shardgen:default`}},
	{"//shardgen:cached ttl=5m", []string{`12: unknown directive "cached"; did you mean //shardgen:cache?`}},

	// The cache directive: ttl= is required, a Go duration from 1s to 30 days.
	{"//shardgen:cache", []string{`17: missing ttl=<duration>: want //shardgen:cache ttl=<duration>`}},
	{"//shardgen:cache ttl=5", []string{`22: invalid ttl=5: want a Go duration such as 30s, 5m or 1h`}},
	{"//shardgen:cache ttl=10ms", []string{`22: invalid ttl=10ms: want at least 1s`}},
	{"//shardgen:cache ttl=800h", []string{`22: invalid ttl=800h: want at most 720h (30 days)`}},
	{"//shardgen:cache tll=5m", []string{
		`18: unknown option "tll" for //shardgen:cache; did you mean ttl=5m?`,
		`24: missing ttl=<duration>: want //shardgen:cache ttl=<duration>`}},
	{"//shardgen:cache ttl=5m table=x", []string{`25: //shardgen:cache takes no option "table" (want //shardgen:cache ttl=<duration>)`}},
	{"//shardgen:cache 5m", []string{
		`18: unexpected argument "5m" to //shardgen:cache; did you mean ttl=5m?`,
		`20: missing ttl=<duration>: want //shardgen:cache ttl=<duration>`}},

	// Missing positional arguments and required options: at the end of
	// the line.
	{"//shardgen:database", []string{`20: missing database name: want //shardgen:database <name>`}},
	{"//shardgen:group", []string{
		`17: missing group name: want //shardgen:group <name> shards=<n>`,
		`17: missing shards=<n>: want //shardgen:group <name> shards=<n>`}},
	{"//shardgen:group blog  ", []string{`22: missing shards=<n>: want //shardgen:group <name> shards=<n>`}},
	{"//shardgen:partition", []string{`21: missing database name: want //shardgen:partition <database> [table=<name>]`}},
	{"//shardgen:partition table=x", []string{`29: missing database name: want //shardgen:partition <database> [table=<name>]`}},
	{"//shardgen:shard blog", []string{`22: missing key=<Field>: want //shardgen:shard <group> key=<Field> [table=<name>]`}},
	{"//shardgen:shard key=AuthorID", []string{`30: missing group name: want //shardgen:shard <group> key=<Field> [table=<name>]`}},

	// Extra positional arguments, with the option they probably lack.
	{"//shardgen:default posts", []string{`20: unexpected argument "posts" to //shardgen:default (want //shardgen:default [table=<name>])`}},
	{"//shardgen:database a b", []string{`23: unexpected argument "b" to //shardgen:database (want //shardgen:database <name>)`}},
	{"//shardgen:group blog 16", []string{
		`23: unexpected argument "16" to //shardgen:group; did you mean shards=16?`,
		`25: missing shards=<n>: want //shardgen:group <name> shards=<n>`}},
	{"//shardgen:shard blog AuthorID", []string{
		`23: unexpected argument "AuthorID" to //shardgen:shard; did you mean key=AuthorID?`,
		`31: missing key=<Field>: want //shardgen:shard <group> key=<Field> [table=<name>]`}},
	{"//shardgen:partition analytics extra table=x", []string{
		`32: unexpected argument "extra" to //shardgen:partition (want //shardgen:partition <database> [table=<name>])`}},
	{"//shardgen:group shards=16 blog", []string{
		`28: group name "blog" must come before the options: want //shardgen:group <name> shards=<n>`}},

	// Unknown, misplaced and duplicated options.
	{"//shardgen:group blog shard=16", []string{
		`23: unknown option "shard" for //shardgen:group; did you mean shards=16?`,
		`31: missing shards=<n>: want //shardgen:group <name> shards=<n>`}},
	{"//shardgen:shard blog Key=AuthorID", []string{
		`23: unknown option "Key" for //shardgen:shard; did you mean key=AuthorID?`,
		`35: missing key=<Field>: want //shardgen:shard <group> key=<Field> [table=<name>]`}},
	{"//shardgen:default tabel=people", []string{`20: unknown option "tabel" for //shardgen:default; did you mean table=people?`}},
	{"//shardgen:default key=AuthorID", []string{`20: //shardgen:default takes no option "key" (want //shardgen:default [table=<name>])`}},
	{"//shardgen:database analytics table=x", []string{`31: //shardgen:database takes no option "table" (want //shardgen:database <name>)`}},
	{"//shardgen:partition analytics shards=4", []string{`32: //shardgen:partition takes no option "shards" (want //shardgen:partition <database> [table=<name>])`}},
	{"//shardgen:shard blog key=A color=red", []string{`29: unknown option "color" for //shardgen:shard (want //shardgen:shard <group> key=<Field> [table=<name>])`}},
	{"//shardgen:default table=a table=b", []string{`28: duplicate option table=`}},
	{"//shardgen:group blog shards=4 shards=8", []string{`32: duplicate option shards=`}},

	// Malformed values.
	{"//shardgen:group blog shards=abc", []string{`30: invalid shards=abc: want a whole number of logical shards, at least 1`}},
	{"//shardgen:group blog shards=-1", []string{`30: invalid shards=-1: want a whole number of logical shards, at least 1`}},
	{"//shardgen:group blog shards=0", []string{`30: invalid shards=0: want a whole number of logical shards, at least 1`}},
	{"//shardgen:group blog shards=+4", []string{`30: invalid shards=+4: want a whole number of logical shards, at least 1`}},
	{"//shardgen:group blog shards=0x10", []string{`30: invalid shards=0x10: want a whole number of logical shards, at least 1`}},
	{"//shardgen:group blog shards=99999999999999999999", []string{`30: invalid shards=99999999999999999999: want a whole number of logical shards, at least 1`}},
	{"//shardgen:default table=", []string{`26: missing value after table=: want table=<name>`}},
	{"//shardgen:group blog shards=", []string{`30: missing value after shards=: want shards=<n>`}},
	{"//shardgen:default table=Posts", []string{`26: invalid table name "Posts": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{`//shardgen:default table=users";drop`, []string{`26: invalid table name "users\";drop": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{"//shardgen:default table=a=b", []string{`26: invalid table name "a=b": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{"//shardgen:database 1db", []string{`21: invalid database name "1db": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{"//shardgen:group Blog shards=2", []string{`18: invalid group name "Blog": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{"//shardgen:shard blog key=author.ID", []string{`27: invalid key=author.ID: want the name of a field of the struct`}},
	{"//shardgen:shard blog key=func", []string{`27: invalid key=func: want the name of a field of the struct`}},

	// Bad syntax around '='.
	{"//shardgen:shard blog key = AuthorID", []string{`27: space around "=": write key=AuthorID`}},
	{"//shardgen:shard blog key =AuthorID", []string{`27: space around "=": write key=AuthorID`}},
	{"//shardgen:shard blog key= AuthorID", []string{`26: space after "=": write key=AuthorID`}},
	{"//shardgen:shard blog =AuthorID", []string{
		`23: stray "=": want option=value with no spaces; did you mean key=AuthorID?`,
		`32: missing key=<Field>: want //shardgen:shard <group> key=<Field> [table=<name>]`}},
	{"//shardgen:default =", []string{`20: stray "=": want option=value with no spaces`}},
	{"//shardgen:default table = ", []string{
		`26: space around "=": write table=`,
		`27: missing value after table=: want table=<name>`}},
	{"//shardgen:default // placed on default", []string{`20: comment after a directive: put it on its own line`}},

	// Every error of a line is reported, in line order.
	{"//shardgen:shard Blog tabel=x key=1 key=A extra", []string{
		`18: invalid group name "Blog": names use lowercase letters, digits and underscores and do not start with a digit`,
		`23: unknown option "tabel" for //shardgen:shard; did you mean table=x?`,
		`35: invalid key=1: want the name of a field of the struct`,
		`37: duplicate option key=`,
		`43: unexpected argument "extra" to //shardgen:shard (want //shardgen:shard <group> key=<Field> [table=<name>])`}},

	// Not a directive at all.
	{"// shardgen:default", []string{`1: not a shardgen directive: want a line starting with //shardgen:`}},
}

func TestParseDirectiveErrors(t *testing.T) {
	tests := directiveErrorTests
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, errs := ParseDirective(tt.line, base)
			got := render(t, base, errs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDirective(%q) errors (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

// TestParseDirectiveBestEffort pins what callers get alongside errors: the
// directive kind survives bad arguments, so the loader does not add "model
// has no placement" on top; an unknown directive gives nil.
func TestParseDirectiveBestEffort(t *testing.T) {
	d, errs := ParseDirective("//shardgen:shard blog key=1", base)
	if len(errs) == 0 {
		t.Fatal("want errors")
	}
	if s, ok := d.(*Shard); !ok || s.Group.Name != "blog" {
		t.Errorf("got %#v, want *Shard with group blog", d)
	}
	if d, _ := ParseDirective("//shardgen:nope", base); d != nil {
		t.Errorf("unknown directive gave %#v, want nil", d)
	}
}

// TestParseDirectivePositionsShift checks that positions are relative to pos,
// not to column 1: an indented directive (inside a type block) reports
// columns and offsets moved by the indentation.
func TestParseDirectivePositionsShift(t *testing.T) {
	start := token.Position{Filename: "x/models.go", Line: 42, Column: 2, Offset: 1000}
	d, errs := ParseDirective("//shardgen:shard blog key=AuthorID tabel=x", start)
	got := render(t, start, errs)
	want := []string{`37: unknown option "tabel" for //shardgen:shard; did you mean table=x?`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	s := d.(*Shard)
	wantKey := token.Position{Filename: "x/models.go", Line: 42, Column: 2 + 26, Offset: 1000 + 26}
	if s.Key.Pos != wantKey {
		t.Errorf("key at %v, want %v", s.Key.Pos, wantKey)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, line := range []string{
		"//shardgen:database analytics",
		"//shardgen:group blog shards=16",
		"//shardgen:default",
		"//shardgen:default table=people",
		"//shardgen:partition analytics table=page_views",
		"//shardgen:shard blog key=AuthorID",
		"//shardgen:shard blog key=AuthorID table=posts",
		"//shardgen:cache ttl=5m0s",
	} {
		d, errs := ParseDirective(line, base)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", line, errs)
		}
		if got := Format(d); got != line {
			t.Errorf("Format(ParseDirective(%q)) = %q", line, got)
		}
	}
	// Non-canonical spellings format canonically.
	d, _ := ParseDirective("//shardgen:shard  blog table=posts\tkey=AuthorID ", base)
	if got, want := Format(d), "//shardgen:shard blog key=AuthorID table=posts"; got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
}

func TestIsDirective(t *testing.T) {
	for line, want := range map[string]bool{
		"//shardgen:default":     true,
		"//shardgen:":            true,
		"//shardgen:nonsense":    true,
		"// shardgen:default":    false,
		"//shardgen default":     false,
		"/*shardgen:default*/":   false,
		"//go:generate shardgen": false,
		"":                       false,
	} {
		if got := IsDirective(line); got != want {
			t.Errorf("IsDirective(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestLooksLikeDirective(t *testing.T) {
	near := map[string]string{
		"// shardgen:default":                "//shardgen:default",
		"//  shardgen: shard blog key=A":     "//shardgen:shard blog key=A",
		"// Shardgen:partition analytics":    "//shardgen:partition analytics",
		"//shardgen default":                 "//shardgen:default",
		"//shardgen group blog shards=4":     "//shardgen:group blog shards=4",
		"//shardgen :default":                "//shardgen:default",
		"//shardgen":                         "//shardgen:",
		"//shardgens:shard blog key=A":       "//shardgen:shard blog key=A",
		"//Shardgen:default":                 "//shardgen:default",
		"//SHARDGEN:default":                 "//shardgen:default",
		"//shardgn:default":                  "//shardgen:default",
		"//sharding:shard blog key=AuthorID": "//shardgen:shard blog key=AuthorID",
		"//shardgen-default":                 "//shardgen:-default",
	}
	for line, want := range near {
		if !LooksLikeDirective(line) {
			t.Errorf("LooksLikeDirective(%q) = false, want true", line)
		}
		if got, ok := SuggestDirective(line); !ok || got != want {
			t.Errorf("SuggestDirective(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
	for _, line := range []string{
		"//shardgen:default", // the real thing
		"// shardgen generates repositories for the models below.",
		"// shardgen: see the README",
		"// Shardgen default placement is the default database.",
		"//sharding:", // directive-shaped but nothing directive-like after
		"//shardgenerator:default",
		"//nolint:default",
		"//go:generate go tool shardgen",
		"// Post is a blog post.",
		"//",
		"",
		"/* shardgen:default */",
	} {
		if LooksLikeDirective(line) {
			t.Errorf("LooksLikeDirective(%q) = true, want false", line)
		}
	}
}

func TestDistanceAndSuggest(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"default", "default", 0}, {"defualt", "default", 1}, {"deflt", "default", 2},
		{"shard", "shards", 1}, {"", "pk", 2}, {"sharding", "shardgen", 3}, {"ab", "ba", 1},
	} {
		if got := distance(tt.a, tt.b); got != tt.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
		if got := distance(tt.b, tt.a); got != tt.d {
			t.Errorf("distance(%q, %q) = %d, want %d (symmetry)", tt.b, tt.a, got, tt.d)
		}
	}
	for word, want := range map[string]string{
		"defualt": "default", "DEFAULT": "default", "grop": "group", "databse": "database",
		"partitions": "partition", "shards": "shard", "xyz": "", "pk": "", "part": "",
	} {
		if got := suggest(word, directiveNames); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

// TestErrorString pins the Error format the diagnostics build on.
func TestErrorString(t *testing.T) {
	_, errs := ParseDirective("//shardgen:defualt", base)
	if len(errs) != 1 {
		t.Fatalf("got %v", errs)
	}
	got := errs[0].Error()
	if want := "models.go:7:12: unknown directive"; !strings.HasPrefix(got, want) {
		t.Errorf("Error() = %q, want prefix %q", got, want)
	}
}

func TestClosest(t *testing.T) {
	for _, tt := range []struct {
		word       string
		candidates []string
		want       string
	}{
		{"analytcs", []string{"default", "analytics"}, "analytics"},
		{"PostAuthor", []string{"ID", "PostID", "PostAuthorID"}, "PostAuthorID"},
		{"postauthorid", []string{"PostAuthorID"}, "PostAuthorID"}, // case-insensitive
		{"px", []string{"pk"}, "pk"},
		{"xyz", []string{"pk", "index"}, ""},
		{"defaultx", []string{"default"}, "default"},
		{"defaulttable", []string{"default"}, ""}, // prefix fallback is the parser's own (suggest), not Closest's
	} {
		if got := Closest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("Closest(%q, %q) = %q, want %q", tt.word, tt.candidates, got, tt.want)
		}
	}
}
