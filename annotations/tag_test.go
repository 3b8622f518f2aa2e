package annotations

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var tagOKTests = []struct {
	tag  string
	want FieldTag
}{
	{``, FieldTag{}},
	{`json:"id"`, FieldTag{}},
	{`db:"author_id"`, FieldTag{Column: &Ident{"author_id", p(4)}}},
	{`db:"-"`, FieldTag{Skip: true}},
	{`db:"-" json:"-"`, FieldTag{Skip: true}},
	{`shardgen:"pk"`, FieldTag{PK: true, Options: []Ident{{"pk", p(10)}}}},
	{`db:"author_id" shardgen:"pk,unique,index,json,ref=Post,via=PostAuthorID"`, FieldTag{
		Column: &Ident{"author_id", p(4)},
		PK:     true, Unique: true, Index: true, JSON: true,
		Ref: &Ident{"Post", p(50)},
		Via: &Ident{"PostAuthorID", p(59)},
		Options: []Ident{{"pk", p(25)}, {"unique", p(28)}, {"index", p(35)}, {"json", p(41)},
			{"ref", p(46)}, {"via", p(55)}},
	}},
	{`shardgen:"unique=global,fold"`, FieldTag{Global: true, Fold: true, Options: []Ident{{"unique", p(10)}, {"fold", p(24)}}}},
	{`shardgen:"unique=global,index"`, FieldTag{Global: true, Index: true, Options: []Ident{{"unique", p(10)}, {"index", p(24)}}}},
	// Other keys around ours, several spaces between pairs (reflect
	// accepts them).
	{`json:"post_id,omitempty"  shardgen:"ref=Post"   db:"post_id" yaml:"p"`, FieldTag{
		Column:  &Ident{"post_id", p(52)},
		Ref:     &Ident{"Post", p(40)},
		Options: []Ident{{"ref", p(36)}},
	}},
	// Escapes in the value: positions still point into the raw tag.
	{`shardgen:"\u0070k,ref=Post"`, FieldTag{PK: true, Ref: &Ident{"Post", p(22)},
		Options: []Ident{{"pk", p(10)}, {"ref", p(18)}}}},
}

func TestParseFieldTagOK(t *testing.T) {
	tests := tagOKTests
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			got, errs := ParseFieldTag(tt.tag, base)
			if len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseFieldTag(%s) (-want +got):\n%s", tt.tag, diff)
			}
			// Our reading of db agrees with reflect's.
			db, ok := reflect.StructTag(tt.tag).Lookup("db")
			switch {
			case got.Skip && db != "-", got.Column != nil && got.Column.Name != db, got.Column == nil && !got.Skip && ok:
				t.Errorf("reflect reads db:%q (found %v), we read %+v", db, ok, got)
			}
		})
	}
}

var tagErrorTests = []struct {
	tag  string
	want []string // "column: message"
}{
	// Malformed struct tags (not key:"value" pairs).
	{`db:author_id`, []string{`1: malformed struct tag: want key:"value" pairs separated by spaces`}},
	{`db`, []string{`1: malformed struct tag: want key:"value" pairs separated by spaces`}},
	{`db:"x" shardgen`, []string{`8: malformed struct tag: want key:"value" pairs separated by spaces`}},
	{`db: "x"`, []string{`1: malformed struct tag: want key:"value" pairs separated by spaces`}},
	{`db:"x`, []string{`4: malformed struct tag: unterminated value of db`}},
	{`db:"x"shardgen:"pk"`, []string{`7: malformed struct tag: key:"value" pairs must be separated by a space`}},
	{`db:"x" shardgen:"\q"`, []string{`17: malformed struct tag: value of shardgen is not a valid Go string`}},
	{"db:\"x\"\tshardgen:\"pk\"", []string{`7: malformed struct tag: key:"value" pairs must be separated by a space`}},

	// Duplicate and misspelled keys.
	{`db:"a" db:"b"`, []string{`8: duplicate db tag`}},
	{`shardgen:"pk" shardgen:"index"`, []string{`15: duplicate shardgen tag`}},
	{`sharding:"pk"`, []string{`1: unknown struct tag key "sharding"; did you mean shardgen?`}},
	{`Shardgen:"pk"`, []string{`1: unknown struct tag key "Shardgen"; did you mean shardgen?`}},
	{`DB:"author_id"`, []string{`1: unknown struct tag key "DB"; did you mean db?`}},

	// Column names.
	{`db:""`, []string{`5: empty db tag: name the column, or drop the tag to derive the name`}},
	{`db:"AuthorID"`, []string{`5: invalid column name "AuthorID": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{`db:"users\";drop table x;--"`, []string{`5: invalid column name "users\";drop table x;--": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{`db:"author_id,omitempty"`, []string{`5: invalid column name "author_id,omitempty": names use lowercase letters, digits and underscores and do not start with a digit`}},
	{`db:"-" shardgen:"index"`, []string{`8: a field skipped with db:"-" takes no shardgen options`}},

	// Options.
	{`shardgen:""`, []string{`11: empty shardgen tag: want options such as pk, unique, unique=global, index, json, counter, upsert, version, ref=Model, via=Field`}},
	{`shardgen:"uniq"`, []string{`11: unknown shardgen option "uniq"; did you mean unique?`}},
	{`shardgen:"PK"`, []string{`11: unknown shardgen option "PK"; did you mean pk?`}},
	{`shardgen:"pk,indx"`, []string{`14: unknown shardgen option "indx"; did you mean index?`}},
	{`shardgen:"primary_key"`, []string{`11: unknown shardgen option "primary_key"; did you mean pk?`}},
	{`shardgen:"references=Post"`, []string{`11: unknown shardgen option "references"; did you mean ref=<Model>?`}},
	{`shardgen:"-"`, []string{`11: unknown shardgen option "-"; did you mean db:"-"?`}},
	{`shardgen:"jsonb"`, []string{`11: unknown shardgen option "jsonb"; did you mean json?`}},
	{`shardgen:"increment"`, []string{`11: unknown shardgen option "increment"; did you mean counter?`}},
	{`shardgen:"countr"`, []string{`11: unknown shardgen option "countr"; did you mean counter?`}},
	{`shardgen:"counter=1"`, []string{`18: option counter takes no value`}},
	{`shardgen:"sharded"`, []string{`11: unknown shardgen option "sharded" (want pk, unique, unique=global, index, json, fold, counter, upsert, version, ref=<Model> or via=<Field>)`}},
	{`shardgen:"unique=globl"`, []string{`18: unknown unique scope "globl"; did you mean global?`}},
	{`shardgen:"unique=shard"`, []string{`18: unknown unique scope "shard": want unique=global, or unique alone for unique within a shard`}},
	{`shardgen:"unique="`, []string{`18: missing scope after unique=: want unique=global, or unique alone for unique within a shard`}},
	{`shardgen:"unique,unique=global"`, []string{`18: duplicate shardgen option unique`}},
	{`shardgen:"fold"`, []string{`11: fold needs unique=global on the same field: it makes the global lookup ignore case`}},
	{`shardgen:"unique,fold"`, []string{`18: fold needs unique=global on the same field: it makes the global lookup ignore case`}},
	{`shardgen:"unique=global,fold=yes"`, []string{`29: option fold takes no value`}},
	{`shardgen:"unique=global,flod"`, []string{`25: unknown shardgen option "flod"; did you mean fold?`}},
	{`shardgen:"pk,unique,pk"`, []string{`21: duplicate shardgen option pk`}},
	{`shardgen:"ref=Post,ref=User"`, []string{`20: duplicate shardgen option ref`}},
	{`shardgen:"pk=true"`, []string{`13: option pk takes no value`}},
	{`shardgen:"index="`, []string{`16: option index takes no value`}},
	{`shardgen:"ref="`, []string{`15: missing model name after ref=: want ref=<Model>`}},
	{`shardgen:"ref"`, []string{`14: option ref needs a value: want ref=<Model>`}},
	{`shardgen:"ref=Post,via="`, []string{`24: missing field name after via=: want via=<Field>`}},
	{`shardgen:"ref=Post,via"`, []string{`23: option via needs a value: want via=<Field>`}},
	{`shardgen:"ref=blog.Post"`, []string{`15: invalid model name "blog.Post" in ref=: want a Go identifier of this package`}},
	{`shardgen:"ref=Post,via=1x"`, []string{`24: invalid field name "1x" in via=: want a Go identifier of this package`}},
	{`shardgen:"via=AuthorID"`, []string{`11: via= needs ref= on the same field: via names where the referenced row's shard key is stored`}},
	{`shardgen:"pk,,index"`, []string{`14: empty option in shardgen tag`}},
	{`shardgen:"pk,"`, []string{`14: empty option in shardgen tag`}},
	{`shardgen:",pk"`, []string{`11: empty option in shardgen tag`}},
	{`shardgen:"pk, unique"`, []string{`14: space in shardgen tag: separate options with "," only`}},
	{`shardgen:"pk ,unique"`, []string{`13: space in shardgen tag: separate options with "," only`}},
	{`shardgen:"pk, "`, []string{
		`14: space in shardgen tag: separate options with "," only`,
		`14: empty option in shardgen tag`}},

	// Every error of a tag, in order.
	{`DB:"x" db:"Author" shardgen:"pk,uniq,pk,ref=,via=X"`, []string{
		`1: unknown struct tag key "DB"; did you mean db?`,
		`12: invalid column name "Author": names use lowercase letters, digits and underscores and do not start with a digit`,
		`33: unknown shardgen option "uniq"; did you mean unique?`,
		`38: duplicate shardgen option pk`,
		`45: missing model name after ref=: want ref=<Model>`,
		`46: via= needs ref= on the same field: via names where the referenced row's shard key is stored`}},
}

func TestParseFieldTagErrors(t *testing.T) {
	tests := tagErrorTests
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			_, errs := ParseFieldTag(tt.tag, base)
			got := render(t, base, errs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFieldTag(%s) errors (-want +got):\n%s", tt.tag, diff)
			}
		})
	}
}

func TestFieldTagString(t *testing.T) {
	for _, tag := range []string{
		``,
		`db:"-"`,
		`db:"author_id"`,
		`shardgen:"pk"`,
		`db:"author_id" shardgen:"pk,unique,index,json,ref=Post,via=PostAuthorID"`,
		`db:"email" shardgen:"unique=global,fold"`,
		`shardgen:"unique=global,index"`,
	} {
		ft, errs := ParseFieldTag(tag, base)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", tag, errs)
		}
		if got := ft.String(); got != tag {
			t.Errorf("ParseFieldTag(%s).String() = %s", tag, got)
		}
	}
}

func TestOptionPos(t *testing.T) {
	ft, _ := ParseFieldTag(`db:"x" shardgen:"index,json"`, base)
	if got, ok := ft.OptionPos("json"); !ok || got != p(23) {
		t.Errorf("OptionPos(json) = %v, %v; want %v", got, ok, p(23))
	}
	if _, ok := ft.OptionPos("pk"); ok {
		t.Error("OptionPos(pk) found an option that is not there")
	}
}

func TestParseTagLiteral(t *testing.T) {
	// The opening quote is at column 1; the tag's first byte at column 2.
	tests := []struct {
		lit       string
		wantCol   int // where the column name is
		wantError []string
	}{
		{"`db:\"author_id\" shardgen:\"uniq\"`", 6, []string{`27: unknown shardgen option "uniq"; did you mean unique?`}},
		// Interpreted literal: \" is two bytes in the source, one in the tag.
		{`"db:\"author_id\" shardgen:\"uniq\""`, 7, []string{`30: unknown shardgen option "uniq"; did you mean unique?`}},
		{`"db:\"author_id\"\tshardgen:\"pk\""`, 7, []string{`18: malformed struct tag: key:"value" pairs must be separated by a space`}},
		{`"db:\"x\"`, 0, []string{`1: malformed struct tag: want a string literal`}},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			ft, errs := ParseTagLiteral(tt.lit, base)
			if diff := cmp.Diff(tt.wantError, render(t, base, errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.wantCol > 0 && (ft.Column == nil || ft.Column.Pos != p(tt.wantCol-1)) {
				t.Errorf("column name at %+v, want column %d", ft.Column, tt.wantCol)
			}
		})
	}
}
