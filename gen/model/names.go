package model

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file derives SQL names from Go names (tables, columns) and names the
// objects shardgen creates in PostgreSQL (shard schemas, constraints,
// indexes, sequences). The emitter writes these names and the validator
// checks them against PostgreSQL's 63-byte identifier limit, so both must
// call the same functions: a name derived in two places would drift.

// MaxIdentifier is PostgreSQL's limit on identifier length in bytes
// (NAMEDATALEN-1). Longer names are silently truncated by the server, which
// would make two derived names collide, so shardgen refuses them.
const MaxIdentifier = 63

// SnakeCase converts a Go identifier to snake_case the way Go names are
// read: AuthorID -> author_id, URL -> url, HTTPStatus -> http_status,
// PageView -> page_view, UserIDs -> user_ids, Address2 -> address2.
// An upper-case run is one word (an initialism) except that its last letter
// starts the next word when a lower-case letter follows; a plural "s" after
// an initialism ("IDs") stays with it. Digits stay with the word before them.
func SnakeCase(name string) string {
	runes := []rune(name)
	var b strings.Builder
	b.Grow(len(name) + 4)
	for i, r := range runes {
		if r == '_' {
			// An explicit underscore already separates words; avoid doubling it.
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			continue
		}
		if unicode.IsUpper(r) && i > 0 && wordStartsAt(runes, i) && b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.Trim(b.String(), "_")
}

// wordStartsAt reports whether the upper-case rune runes[i] (i > 0) begins a
// new word.
func wordStartsAt(runes []rune, i int) bool {
	prev := runes[i-1]
	if unicode.IsLower(prev) || unicode.IsDigit(prev) {
		// pageView, address2Line: a capital after lower case or a digit.
		return true
	}
	if !unicode.IsUpper(prev) {
		return false
	}
	// Inside an upper-case run: HTTPStatus splits before the S of Status,
	// because a lower-case letter follows it.
	if i+1 >= len(runes) || !unicode.IsLower(runes[i+1]) {
		return false
	}
	// ...but IDs and URLs keep their plural s: the lower-case letter is a
	// lone "s" that ends the word.
	if runes[i+1] == 's' && (i+2 >= len(runes) || !unicode.IsLower(runes[i+2])) {
		return false
	}
	return true
}

// TableName is the table name derived from a struct name: the snake_case
// plural (Post -> posts, PageView -> page_views, Category -> categories).
func TableName(goName string) string {
	snake := SnakeCase(goName)
	i := strings.LastIndexByte(snake, '_')
	return snake[:i+1] + Plural(snake[i+1:])
}

// irregular plurals of English words likely to name a model.
var irregular = map[string]string{
	"person": "people", "child": "children", "man": "men", "woman": "women",
	"mouse": "mice", "goose": "geese", "foot": "feet", "tooth": "teeth",
	"leaf": "leaves", "life": "lives", "knife": "knives", "wife": "wives",
	"half": "halves", "shelf": "shelves", "wolf": "wolves", "thief": "thieves",
	"ox": "oxen", "quiz": "quizzes", "index": "indexes", "vertex": "vertices",
	"matrix": "matrices", "criterion": "criteria", "datum": "data",
	"medium": "media", "hero": "heroes", "potato": "potatoes", "echo": "echoes",
	"tomato": "tomatoes", "cactus": "cacti", "alumnus": "alumni",
}

// uncountable words are their own plural.
var uncountable = map[string]bool{
	"data": true, "metadata": true, "news": true, "series": true, "species": true,
	"information": true, "equipment": true, "feedback": true, "sheep": true,
	"fish": true, "deer": true, "media": true, "people": true, "children": true,
	"analytics": true, "settings": true, "stats": true,
}

// Plural returns the English plural of a lower-case word: post -> posts,
// category -> categories, address -> addresses, box -> boxes, status ->
// statuses, person -> people, analysis -> analyses, day -> days.
func Plural(word string) string {
	if word == "" || uncountable[word] {
		return word
	}
	if p, ok := irregular[word]; ok {
		return p
	}
	last, _ := utf8.DecodeLastRuneInString(word)
	if unicode.IsDigit(last) {
		// v2, address2: no sensible plural, keep the word readable.
		return word + "s"
	}
	switch {
	case strings.HasSuffix(word, "sis"):
		return word[:len(word)-2] + "es" // analysis -> analyses
	case strings.HasSuffix(word, "s"), strings.HasSuffix(word, "x"), strings.HasSuffix(word, "z"),
		strings.HasSuffix(word, "ch"), strings.HasSuffix(word, "sh"):
		return word + "es"
	case strings.HasSuffix(word, "y") && len(word) > 1 && !isVowel(word[len(word)-2]):
		return word[:len(word)-1] + "ies"
	}
	return word + "s"
}

func isVowel(c byte) bool { return strings.IndexByte("aeiou", c) >= 0 }

// SchemaDigits is the width of the zero-padded shard number in shard schema
// names: 4 digits, or more when a group has more than 10,000 shards (which
// the default ID layout never allows), so that names sort in shard order.
func SchemaDigits(shards int) int {
	return max(4, len(strconv.Itoa(shards-1)))
}

// SchemaName is the PostgreSQL schema that holds logical shard n of the
// group: "<group>_<nnnn>", e.g. blog_0007.
func (g *Group) SchemaName(n int) string {
	return fmt.Sprintf("%s_%0*d", g.Name, SchemaDigits(g.Shards), n)
}

// LongestSchemaName is the longest schema name of the group (its last
// shard), the one the 63-byte limit must be checked against.
func (g *Group) LongestSchemaName() string {
	return g.SchemaName(max(g.Shards-1, 0))
}

// PKConstraintName names the primary-key constraint of the model's table
// (PostgreSQL's own convention: <table>_pkey).
func (m *Model) PKConstraintName() string { return m.Table + "_pkey" }

// UniqueConstraintName names the unique constraint of a column tagged
// unique: <table>_<column>_key, as PostgreSQL would.
func (m *Model) UniqueConstraintName(f *Field) string { return m.Table + "_" + f.Column + "_key" }

// LookupTable names the lookup table of a unique=global field, created in
// every shard schema of the model's group: <table>_<column>_lookup.
func (m *Model) LookupTable(f *Field) string { return m.Table + "_" + f.Column + "_lookup" }

// LookupPKName names the primary key (the value) of a lookup table.
func (m *Model) LookupPKName(f *Field) string { return m.LookupTable(f) + "_pkey" }

// IndexName names the index of a column tagged index: <table>_<column>_idx.
func (m *Model) IndexName(f *Field) string { return m.Table + "_" + f.Column + "_idx" }

// FKConstraintName names the foreign key of a co-located relation:
// <table>_<column>_fkey, as PostgreSQL would.
func (r *Relation) FKConstraintName() string { return r.From.Table + "_" + r.Field.Column + "_fkey" }

// DerivedName is one identifier shardgen creates for a model, with what it
// names, so that the validator can say which derived name is too long.
type DerivedName struct {
	// What says what the name is for, e.g. "index on column title".
	What string
	Name string
}

// DerivedNames lists every identifier the generated DDL creates for m
// besides the table and column names themselves, as gen/ddl creates them:
// the primary-key constraint, a unique constraint per unique column, a
// foreign key and an index per relation (relation accessors list by the
// referencing column), and an index per other indexed column. Relations
// must be resolved (To set).
func (m *Model) DerivedNames() []DerivedName {
	out := []DerivedName{{"primary-key constraint", m.PKConstraintName()}}
	for _, f := range m.Fields {
		if f.Unique && f != m.PK {
			out = append(out, DerivedName{"unique constraint on column " + f.Column, m.UniqueConstraintName(f)})
		}
	}
	for _, f := range m.Fields {
		if f.Global {
			out = append(out,
				DerivedName{"lookup table of column " + f.Column, m.LookupTable(f)},
				DerivedName{"primary key of the lookup table of column " + f.Column, m.LookupPKName(f)})
		}
	}
	related := map[*Field]bool{}
	for _, r := range m.Relations {
		related[r.Field] = true
		out = append(out,
			DerivedName{"foreign key on column " + r.Field.Column, r.FKConstraintName()},
			DerivedName{"index on column " + r.Field.Column, m.IndexName(r.Field)})
	}
	for _, f := range m.Fields {
		if f.Index && !f.Unique && f != m.PK && !related[f] {
			out = append(out, DerivedName{"index on column " + f.Column, m.IndexName(f)})
		}
	}
	return out
}
