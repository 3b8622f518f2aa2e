package annotations

import (
	"fmt"
	"go/token"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tag keys shardgen reads; other keys (json, yaml, ...) are left alone.
const (
	dbKey       = "db"
	shardgenKey = "shardgen"
)

// fieldOptions are the options of a shardgen tag, in canonical order.
var fieldOptions = []string{"pk", "unique", "index", "json", "fold", "counter", "upsert", "version", "ref", "via"}

// uniqueScopes are the values unique= takes: "global" (unique across every
// shard of the group, through a lookup table).
var uniqueScopes = []string{"global"}

// OptionPos reports where option name ("pk", "ref", ...) was written in the
// shardgen tag, so that later stages can point at it.
func (t FieldTag) OptionPos(name string) (token.Position, bool) {
	for _, o := range t.Options {
		if o.Name == name {
			return o.Pos, true
		}
	}
	return token.Position{}, false
}

// tagPair is one key:"value" pair of a struct tag, with the offsets that map
// the unquoted value back into the raw tag.
type tagPair struct {
	key    string
	keyOff int
	value  string
	// offs[i] is the offset in the raw tag of byte i of value; offs has
	// len(value)+1 entries, the last being the closing quote.
	offs []int
}

// splitTag splits a struct tag into its key:"value" pairs with the rules of
// reflect.StructTag.Lookup, plus the rule of go vet that pairs are separated
// by spaces. It stops at the first malformed pair and reports it.
func splitTag(tag string, e *errs) []tagPair {
	var pairs []tagPair
	i := 0
	for {
		start := i
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		if i == len(tag) {
			return pairs
		}
		if i == start && len(pairs) > 0 {
			e.add(i, "malformed struct tag: key:\"value\" pairs must be separated by a space")
			return pairs
		}
		k := i
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == k || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			e.add(k, "malformed struct tag: want key:\"value\" pairs separated by spaces")
			return pairs
		}
		p := tagPair{key: tag[k:i], keyOff: k}
		q := i + 1 // the opening quote
		j := q + 1
		for j < len(tag) && tag[j] != '"' {
			if tag[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(tag) {
			e.add(q, fmt.Sprintf("malformed struct tag: unterminated value of %s", p.key))
			return pairs
		}
		value, err := strconv.Unquote(tag[q : j+1])
		if err != nil {
			e.add(q, fmt.Sprintf("malformed struct tag: value of %s is not a valid Go string", p.key))
			return pairs
		}
		p.value = value
		p.offs = unquotedOffsets(tag, q+1, j)
		i = j + 1
		pairs = append(pairs, p)
	}
}

// unquotedOffsets maps every byte of the unquoted text of the interpreted
// string s[from:to] (without its quotes, already known to unquote) to the
// offset in s of the raw byte it came from, plus to for the end.
func unquotedOffsets(s string, from, to int) []int {
	var offs []int
	for r := from; r < to; {
		c, mb, rest, err := strconv.UnquoteChar(s[r:to], '"')
		if err != nil {
			// Unreachable for text strconv.Unquote accepted; keep the
			// mapping total anyway.
			rest = s[r+1 : to]
		}
		n := 1
		if mb {
			n = utf8.RuneLen(c)
		}
		for range n {
			offs = append(offs, r)
		}
		r = to - len(rest)
	}
	return append(offs, to)
}

// ParseTagLiteral parses the struct tag of a field as written in the source:
// lit is the tag's Go string literal with its quotes (ast.BasicLit.Value),
// pos the position of its opening quote. A raw literal (`...`, the usual
// form) is parsed as is; an interpreted one ("db:\"x\"") is unquoted first
// and positions are mapped back through its escapes, so that they point at
// the source either way.
func ParseTagLiteral(lit string, pos token.Position) (FieldTag, []Error) {
	if len(lit) >= 2 && lit[0] == '`' && lit[len(lit)-1] == '`' {
		return ParseFieldTag(lit[1:len(lit)-1], at(pos, 1))
	}
	tag, err := strconv.Unquote(lit)
	if err != nil || len(lit) < 2 || lit[0] != '"' {
		return FieldTag{}, []Error{{Pos: pos, Msg: "malformed struct tag: want a string literal"}}
	}
	offs := unquotedOffsets(lit, 1, len(lit)-1)
	// Parse at column 1, offset 0 of a synthetic line, then move every
	// position to where its byte is in the literal.
	synthetic := token.Position{Filename: pos.Filename, Line: pos.Line, Column: 1}
	move := func(q token.Position) token.Position {
		if q.Line == 0 {
			return q
		}
		return at(pos, offs[q.Offset])
	}
	t, errs := ParseFieldTag(tag, synthetic)
	for i := range errs {
		errs[i].Pos = move(errs[i].Pos)
	}
	for _, id := range []*Ident{t.Column, t.Ref, t.Via} {
		if id != nil {
			id.Pos = move(id.Pos)
		}
	}
	for i := range t.Options {
		t.Options[i].Pos = move(t.Options[i].Pos)
	}
	return t, errs
}

// ParseFieldTag parses the struct tag of one field. tag is the tag's text
// without the backquotes, pos the position of its first character; every
// error points at the offending pair or option inside the tag (pos moved
// right by its byte offset). Keys other than db and shardgen are ignored,
// except near misses of them ("sharding", "DB"), which are errors.
//
// All problems are reported. When errors are returned the FieldTag is a
// best-effort reading that callers must not generate code from.
func ParseFieldTag(tag string, pos token.Position) (FieldTag, []Error) {
	e := &errs{base: pos}
	var t FieldTag
	var db, sg *tagPair
	for _, p := range splitTag(tag, e) {
		switch p.key {
		case dbKey, shardgenKey:
			slot := &db
			if p.key == shardgenKey {
				slot = &sg
			}
			if *slot != nil {
				e.add(p.keyOff, fmt.Sprintf("duplicate %s tag", p.key))
				continue
			}
			pp := p
			*slot = &pp
		default:
			if s := nearTagKey(p.key); s != "" {
				e.add(p.keyOff, fmt.Sprintf("unknown struct tag key %q; did you mean %s?", p.key, s))
			}
		}
	}
	if db != nil {
		parseDBTag(*db, &t, e)
	}
	if sg != nil {
		parseShardgenTag(*sg, &t, e)
		if t.Skip && len(t.Options) > 0 {
			e.add(sg.keyOff, "a field skipped with db:\"-\" takes no shardgen options")
		}
	}
	return t, e.sorted()
}

// nearTagKey returns the tag key that key is a misspelling of, or "". Only
// close misses count: "db" is too short to guess from edits, so only a
// different case of it is taken as a typo.
func nearTagKey(key string) string {
	lk := strings.ToLower(key)
	if lk == dbKey {
		return dbKey
	}
	if distance(lk, shardgenKey) <= closeEnough(shardgenKey) {
		return shardgenKey
	}
	return ""
}

func parseDBTag(p tagPair, t *FieldTag, e *errs) {
	switch {
	case p.value == "-":
		t.Skip = true
	case p.value == "":
		e.add(p.offs[0], `empty db tag: name the column, or drop the tag to derive the name`)
	case !IsSQLName(p.value):
		e.add(p.offs[0], fmt.Sprintf("invalid column name %q: %s", p.value, sqlNameRule))
	default:
		t.Column = &Ident{Name: p.value, Pos: at(e.base, p.offs[0])}
	}
}

func parseShardgenTag(p tagPair, t *FieldTag, e *errs) {
	v := p.value
	if v == "" {
		e.add(p.offs[0], "empty shardgen tag: want options such as pk, unique, unique=global, index, json, counter, upsert, version, ref=Model, via=Field")
		return
	}
	start := 0
	for start <= len(v) {
		end := strings.IndexByte(v[start:], ',')
		if end < 0 {
			end = len(v)
		} else {
			end += start
		}
		parseFieldOption(p, start, end, t, e)
		start = end + 1
	}
	if foldPos, ok := t.OptionPos("fold"); ok && !t.Global {
		e.list = append(e.list, Error{Pos: foldPos, Msg: "fold needs unique=global on the same field: it makes the global lookup ignore case"})
	}
	if viaPos, ok := t.OptionPos("via"); ok && t.Ref == nil {
		e.list = append(e.list, Error{Pos: viaPos, Msg: "via= needs ref= on the same field: via names where the referenced row's shard key is stored"})
	}
}

// parseFieldOption parses v[start:end] of the shardgen tag value.
func parseFieldOption(p tagPair, start, end int, t *FieldTag, e *errs) {
	v := p.value
	raw := v[start:end]
	off := func(i int) int { return p.offs[i] } // raw tag offset of value byte i
	if k := strings.IndexAny(raw, " \t\r\n\v\f"); k >= 0 {
		// go vet flags spaces in option lists too ("suspicious space").
		e.add(off(start+k), `space in shardgen tag: separate options with "," only`)
		trimmed := strings.TrimSpace(raw)
		if trimmed != "" {
			start += strings.Index(raw, trimmed)
		}
		raw = trimmed
		end = start + len(raw)
	}
	if raw == "" {
		e.add(off(start), "empty option in shardgen tag")
		return
	}
	name, val, hasVal := strings.Cut(raw, "=")
	valStart := start + len(name) + 1
	if !contains(fieldOptions, name) {
		if s := fieldOptionAlias(name); s != "" {
			e.add(off(start), fmt.Sprintf("unknown shardgen option %q; did you mean %s?", name, s))
		} else if s := suggest(name, fieldOptions); s != "" {
			e.add(off(start), fmt.Sprintf("unknown shardgen option %q; did you mean %s?", name, s))
		} else {
			e.add(off(start), fmt.Sprintf("unknown shardgen option %q (want pk, unique, unique=global, index, json, fold, counter, upsert, version, ref=<Model> or via=<Field>)", name))
		}
		return
	}
	if _, dup := t.OptionPos(name); dup {
		e.add(off(start), fmt.Sprintf("duplicate shardgen option %s", name))
		return
	}
	t.Options = append(t.Options, Ident{Name: name, Pos: at(e.base, off(start))})
	switch name {
	case "unique":
		if !hasVal {
			t.Unique = true
			return
		}
		switch {
		case val == "global":
			t.Global = true
		case val == "":
			e.add(off(valStart), "missing scope after unique=: want unique=global, or unique alone for unique within a shard")
		default:
			if s := suggest(val, uniqueScopes); s != "" {
				e.add(off(valStart), fmt.Sprintf("unknown unique scope %q; did you mean global?", val))
			} else {
				e.add(off(valStart), fmt.Sprintf("unknown unique scope %q: want unique=global, or unique alone for unique within a shard", val))
			}
		}
	case "pk", "index", "json", "fold", "counter", "upsert", "version":
		if hasVal {
			e.add(off(start+len(name)), fmt.Sprintf("option %s takes no value", name))
		}
		switch name {
		case "pk":
			t.PK = true
		case "fold":
			t.Fold = true
		case "index":
			t.Index = true
		case "json":
			t.JSON = true
		case "counter":
			t.Counter = true
		case "upsert":
			t.Upsert = true
		case "version":
			t.Version = true
		}
	case "ref", "via":
		what := "model name"
		if name == "via" {
			what = "field name"
		}
		switch {
		case !hasVal:
			e.add(off(start+len(name)), fmt.Sprintf("option %s needs a value: want %s", name, placeholder(name)))
		case val == "":
			e.add(off(valStart), fmt.Sprintf("missing %s after %s=: want %s", what, name, placeholder(name)))
		case !isGoName(val):
			e.add(off(valStart), fmt.Sprintf("invalid %s %q in %s=: want a Go identifier of this package", what, val, name))
		default:
			id := &Ident{Name: val, Pos: at(e.base, off(valStart))}
			if name == "ref" {
				t.Ref = id
			} else {
				t.Via = id
			}
		}
	}
}

// fieldOptionAlias maps words other tools use for a shardgen option (GORM,
// SQL) to what shardgen spells, for suggestions that edit distance cannot
// make.
func fieldOptionAlias(name string) string {
	switch strings.ToLower(name) {
	case "primary", "primary_key", "primarykey", "primarykeys", "id":
		return "pk"
	case "idx", "indexed":
		return "index"
	case "jsonb":
		return "json"
	case "counters", "incr", "increment", "inc", "buffered":
		return "counter"
	case "references", "reference", "fk", "foreign", "foreign_key", "foreignkey":
		return "ref=<Model>"
	case "-", "skip", "ignore", "omit":
		return `db:"-"`
	}
	return ""
}

func placeholder(opt string) string {
	if opt == "ref" {
		return "ref=<Model>"
	}
	return "via=<Field>"
}

// String returns the canonical struct tag text of t, which ParseFieldTag
// reads back into the same FieldTag (positions aside).
func (t FieldTag) String() string {
	var parts []string
	switch {
	case t.Skip:
		parts = append(parts, `db:"-"`)
	case t.Column != nil:
		parts = append(parts, `db:"`+t.Column.Name+`"`)
	}
	var opts []string
	for _, o := range []struct {
		set  bool
		name string
	}{{t.PK, "pk"}, {t.Unique, "unique"}, {t.Global, "unique=global"}, {t.Index, "index"}, {t.JSON, "json"}, {t.Fold, "fold"}, {t.Counter, "counter"}, {t.Upsert, "upsert"}, {t.Version, "version"}} {
		if o.set {
			opts = append(opts, o.name)
		}
	}
	if t.Ref != nil {
		opts = append(opts, "ref="+t.Ref.Name)
	}
	if t.Via != nil {
		opts = append(opts, "via="+t.Via.Name)
	}
	if len(opts) > 0 {
		parts = append(parts, shardgenKey+`:"`+strings.Join(opts, ",")+`"`)
	}
	return strings.Join(parts, " ")
}
