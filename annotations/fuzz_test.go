package annotations

import (
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fuzzBase is deliberately not column 1, so that a parser that forgot to add
// pos.Column would report positions outside the input.
var fuzzBase = token.Position{Filename: "fuzz.go", Line: 12, Column: 9, Offset: 300}

// checkPos fails unless q lies on the input that starts at start and is n
// bytes long: same file and line, start.Column <= column <= start.Column+n,
// and an offset that agrees with the column.
func checkPos(t *testing.T, what string, start, q token.Position, n int) {
	t.Helper()
	if q.Filename != start.Filename || q.Line != start.Line {
		t.Fatalf("%s at %v: not on the input's line %v", what, q, start)
	}
	if q.Column < start.Column || q.Column > start.Column+n {
		t.Fatalf("%s at column %d: outside the input (columns %d..%d)", what, q.Column, start.Column, start.Column+n)
	}
	if q.Offset-start.Offset != q.Column-start.Column {
		t.Fatalf("%s: offset %d disagrees with column %d", what, q.Offset, q.Column)
	}
}

// checkIdent fails unless id is where its name is written in input (when
// the input has no escapes that would move it).
func checkIdent(t *testing.T, what string, input string, id Ident) {
	t.Helper()
	checkPos(t, what, fuzzBase, id.Pos, len(input))
	off := id.Pos.Column - fuzzBase.Column
	if !strings.HasPrefix(input[off:], id.Name) {
		t.Fatalf("%s %q at offset %d, but the input there is %q", what, id.Name, off, input[off:])
	}
}

// directiveIdents lists the names of d with what they are.
func directiveIdents(d Directive) map[string]Ident {
	m := map[string]Ident{}
	switch d := d.(type) {
	case *Database:
		m["database name"] = d.Name
	case *Group:
		m["group name"] = d.Name
	case *Default:
		if d.Table != nil {
			m["table"] = *d.Table
		}
	case *Partition:
		m["database"] = d.Database
		if d.Table != nil {
			m["table"] = *d.Table
		}
	case *Shard:
		m["group"] = d.Group
		m["key"] = d.Key
		if d.Table != nil {
			m["table"] = *d.Table
		}
	}
	return m
}

// ignorePos compares ASTs by content only.
var ignorePos = cmpopts.IgnoreTypes(token.Position{})

func FuzzParseDirective(f *testing.F) {
	for _, tt := range directiveOKTests {
		f.Add(tt.line)
	}
	for _, tt := range directiveErrorTests {
		f.Add(tt.line)
	}
	for _, s := range []string{"//shardgen:group é shards=1", "//shardgen:shard b key=Ä", "//shardgen:default\x00", "//shardgen:\n", "//shardgen:shard b key=A\nx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		d, errs := ParseDirective(line, fuzzBase)
		for _, e := range errs {
			if e.Msg == "" {
				t.Fatalf("error without a message at %v", e.Pos)
			}
			checkPos(t, "error "+e.Msg, fuzzBase, e.Pos, len(line))
		}
		if !slices.IsSortedFunc(errs, func(a, b Error) int { return a.Pos.Offset - b.Pos.Offset }) {
			t.Fatalf("errors not in line order: %v", errs)
		}
		if d != nil {
			if d.At() != fuzzBase {
				t.Fatalf("directive at %v, want %v", d.At(), fuzzBase)
			}
			for what, id := range directiveIdents(d) {
				if id.Name != "" || len(errs) == 0 {
					checkIdent(t, what, line, id)
				}
			}
			if g, ok := d.(*Group); ok && g.Shards > 0 {
				checkPos(t, "shards", fuzzBase, g.ShardsPos, len(line))
			}
		}
		if !IsDirective(line) && len(errs) == 0 {
			t.Fatalf("%q is not a directive but parsed without errors", line)
		}
		if len(errs) > 0 {
			return
		}
		if d == nil {
			t.Fatal("no errors and no directive")
		}
		// A directive that parses formats canonically and parses back to
		// the same thing.
		text := Format(d)
		d2, errs2 := ParseDirective(text, fuzzBase)
		if len(errs2) > 0 {
			t.Fatalf("Format gave %q which does not parse: %v", text, errs2)
		}
		if diff := cmp.Diff(d, d2, ignorePos); diff != "" {
			t.Fatalf("round trip through %q changed the directive (-first +second):\n%s", text, diff)
		}
		if Format(d2) != text {
			t.Fatalf("Format is not stable: %q then %q", text, Format(d2))
		}
	})
}

func FuzzLooksLikeDirective(f *testing.F) {
	for _, s := range []string{"// shardgen:default", "//shardgen default", "//sharding:shard b key=A", "// shardgen generates", "//", "//shardgen:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, ok := SuggestDirective(line)
		if ok != LooksLikeDirective(line) {
			t.Fatal("SuggestDirective and LooksLikeDirective disagree")
		}
		if ok && IsDirective(line) {
			t.Fatalf("%q is a directive and a near miss", line)
		}
		if ok && !IsDirective(s) {
			t.Fatalf("suggestion %q for %q is not a directive", s, line)
		}
	})
}

func FuzzParseFieldTag(f *testing.F) {
	for _, tt := range tagOKTests {
		f.Add(tt.tag)
	}
	for _, tt := range tagErrorTests {
		f.Add(tt.tag)
	}
	for _, s := range []string{`db:"\x41"`, `shardgen:"ref=Ü"`, `db:"é"`, `db:"a\tb"`, "db:\"x\" \x7f:\"y\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		ft, errs := ParseFieldTag(tag, fuzzBase)
		for _, e := range errs {
			if e.Msg == "" {
				t.Fatalf("error without a message at %v", e.Pos)
			}
			checkPos(t, "error "+e.Msg, fuzzBase, e.Pos, len(tag))
		}
		if !slices.IsSortedFunc(errs, func(a, b Error) int { return a.Pos.Offset - b.Pos.Offset }) {
			t.Fatalf("errors not in tag order: %v", errs)
		}
		checkLiterals(t, tag, ft, errs)
		escapes := strings.Contains(tag, `\`)
		idents := slices.Clone(ft.Options)
		if ft.Column != nil {
			idents = append(idents, *ft.Column)
		}
		if ft.Ref != nil {
			idents = append(idents, *ft.Ref)
		}
		if ft.Via != nil {
			idents = append(idents, *ft.Via)
		}
		for _, id := range idents {
			if escapes {
				checkPos(t, "name "+id.Name, fuzzBase, id.Pos, len(tag))
			} else {
				checkIdent(t, "name", tag, id)
			}
		}
		if len(errs) > 0 {
			return
		}
		// Whatever parses, reflect reads the same way: the tag is a valid
		// reflect.StructTag and db/shardgen say what we understood.
		st := reflect.StructTag(tag)
		db, hasDB := st.Lookup("db")
		switch {
		case ft.Skip:
			if db != "-" {
				t.Fatalf("skip, but reflect reads db:%q", db)
			}
		case ft.Column != nil:
			if db != ft.Column.Name {
				t.Fatalf("column %q, but reflect reads db:%q", ft.Column.Name, db)
			}
		case hasDB:
			t.Fatalf("no column, but reflect reads db:%q", db)
		}
		sg, hasSG := st.Lookup("shardgen")
		if hasSG != (len(ft.Options) > 0) || strings.Count(sg, ",")+1 != len(ft.Options) && hasSG {
			t.Fatalf("reflect reads shardgen:%q, we read options %v", sg, ft.Options)
		}
		// The canonical text parses back to the same tag.
		text := ft.String()
		ft2, errs2 := ParseFieldTag(text, fuzzBase)
		if len(errs2) > 0 {
			t.Fatalf("String gave %s which does not parse: %v", text, errs2)
		}
		byName := func(a, b Ident) bool { return a.Name < b.Name }
		if diff := cmp.Diff(ft, ft2, ignorePos, cmpopts.SortSlices(byName), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip through %s changed the tag (-first +second):\n%s", text, diff)
		}
		if ft2.String() != text {
			t.Fatalf("String is not stable: %s then %s", text, ft2.String())
		}
	})
}

// checkLiterals parses tag written as a Go string literal, raw and
// interpreted, and fails unless both readings agree with ParseFieldTag's
// (ft, errs) and every position lies inside the literal.
func checkLiterals(t *testing.T, tag string, ft FieldTag, errs []Error) {
	t.Helper()
	msgs := func(es []Error) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Msg)
		}
		return out
	}
	lits := []string{strconv.Quote(tag)}
	if !strings.Contains(tag, "`") {
		lits = append(lits, "`"+tag+"`")
	}
	for _, lit := range lits {
		ft2, errs2 := ParseTagLiteral(lit, fuzzBase)
		if diff := cmp.Diff(msgs(errs), msgs(errs2)); diff != "" {
			t.Fatalf("literal %s: errors differ from the tag's (-tag +literal):\n%s", lit, diff)
		}
		if diff := cmp.Diff(ft, ft2, ignorePos, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("literal %s: reading differs from the tag's (-tag +literal):\n%s", lit, diff)
		}
		for _, e := range errs2 {
			checkPos(t, "literal error "+e.Msg, fuzzBase, e.Pos, len(lit))
		}
		for _, o := range ft2.Options {
			checkPos(t, "literal option "+o.Name, fuzzBase, o.Pos, len(lit))
		}
		if lit[0] == '`' {
			// A raw literal is the tag moved right by its backquote.
			for i := range errs {
				if errs2[i].Pos != at(errs[i].Pos, 1) {
					t.Fatalf("raw literal: error %q at %v, want %v", errs[i].Msg, errs2[i].Pos, at(errs[i].Pos, 1))
				}
			}
		}
	}
}
