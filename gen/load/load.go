// Package load reads annotated Go packages with golang.org/x/tools/go/packages
// and builds their model: the package-level declarations (databases, shard
// groups), one model per annotated struct, its fields with their Go types
// mapped to storage kinds, and its relations, every one with the position it
// was written at.
//
// The loader reports what it sees in the source (bad directives, unsupported
// field types, directives attached to nothing); it resolves names where it
// can and leaves unresolved references nil, with the name as written, for
// gen/validate to report. Both write to the same diag.List, so a run reports
// every problem at once.
package load

import (
	"bytes"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/shardgen/shardgen/annotations"
	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// BuildTag is the build tag the loader sets. Generated files carry
// //go:build !shardgen, so a stale or broken generated file never stops the
// package from loading again.
const BuildTag = "shardgen"

// Config says where and how to load packages.
type Config struct {
	// Dir is the directory patterns are resolved in ("" = current directory).
	Dir string
	// Env is the environment of the go command; nil means os.Environ().
	Env []string
}

// mode is what the loader needs: syntax with comments for the directives and
// positions, types for the field types.
const mode = packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
	packages.NeedTypes | packages.NeedTypesInfo

// Packages loads the packages matched by patterns and returns the model of
// each package that holds at least one shardgen directive, in import-path
// order. Problems go to diags; a model is returned even when some of it is
// wrong, so that the validator can report its own findings in the same run.
func Packages(cfg Config, patterns []string, diags *diag.List) []*model.Package {
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	pcfg := &packages.Config{
		Mode:       mode,
		Dir:        cfg.Dir,
		Env:        cfg.Env,
		BuildFlags: []string{"-tags=" + BuildTag},
		ParseFile: func(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
			return parser.ParseFile(fset, filename, src, parser.ParseComments|parser.SkipObjectResolution|parser.AllErrors)
		},
	}
	pkgs, err := packages.Load(pcfg, patterns...)
	if err != nil {
		diags.Errorf(token.Position{}, "loading %s: %v", strings.Join(patterns, " "), err)
		return nil
	}
	slices.SortFunc(pkgs, func(a, b *packages.Package) int { return strings.Compare(a.PkgPath, b.PkgPath) })
	var out []*model.Package
	for _, p := range pkgs {
		if m := loadPackage(p, diags); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// loader builds the model of one package.
type loader struct {
	pkg   *packages.Package
	diags *diag.List
	types typeMapper
	out   *model.Package
	// consumed holds the directive comments that belong to a package header
	// or a type's doc comment; every other directive is attached to nothing.
	consumed map[*ast.Comment]bool
	// annotated is set when the package holds any directive at all.
	annotated bool
}

func loadPackage(p *packages.Package, diags *diag.List) *model.Package {
	l := &loader{
		pkg:      p,
		diags:    diags,
		types:    typeMapper{pkg: p.Types},
		consumed: map[*ast.Comment]bool{},
		out: &model.Package{
			Path:      p.PkgPath,
			Name:      p.Name,
			Databases: []*model.Database{{Name: model.DefaultDatabase}},
		},
	}
	if len(p.GoFiles) > 0 {
		l.out.Dir = filepath.Dir(p.GoFiles[0])
	}
	// Listing and syntax errors make the package unreadable; type errors do
	// not: the annotated package usually refers to the generated code that
	// the build tag hides. A type error matters only where it makes a
	// field's type unknown, and is reported there.
	for _, e := range p.Errors {
		if e.Kind == packages.TypeError || e.Kind == packages.ListError && strings.HasPrefix(e.Msg, "# ") {
			// "# path\n..." is the compiler's output from building export
			// data: the same type errors, unpositioned.
			continue
		}
		l.diags.Errorf(parsePos(e.Pos), "%s", e.Msg)
		l.annotated = true
	}
	files := slices.Clone(p.Syntax)
	slices.SortFunc(files, func(a, b *ast.File) int {
		return strings.Compare(l.position(a.Package).Filename, l.position(b.Package).Filename)
	})
	var decls []typeDecl
	builds := map[string]string{}
	for _, f := range files {
		l.header(f)
		decls = append(decls, l.typeDecls(f)...)
		l.declared(f)
		name := l.position(f.Package).Filename
		builds[name] = fileConstraint(f, name)
	}
	for _, d := range decls {
		if m := l.model(d); m != nil {
			m.Build = builds[m.Pos.Filename]
			l.out.Models = append(l.out.Models, m)
		}
	}
	l.ignoredFiles()
	for _, f := range files {
		l.strayComments(f)
	}
	if !l.annotated {
		return nil
	}
	l.resolve()
	return l.out
}

// fileConstraint is the build constraint of a file: its //go:build line
// and the GOOS and GOARCH its name ends in (models_linux.go), as one
// expression; "" when the file builds everywhere.
func fileConstraint(f *ast.File, filename string) string {
	var exprs []constraint.Expr
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if constraint.IsGoBuild(c.Text) {
				if x, err := constraint.Parse(c.Text); err == nil {
					exprs = append(exprs, x)
				}
			}
		}
	}
	for _, tag := range model.FileNameTags(filepath.Base(filename)) {
		exprs = append(exprs, &constraint.TagExpr{Tag: tag})
	}
	if len(exprs) == 0 {
		return ""
	}
	x := exprs[0]
	for _, y := range exprs[1:] {
		x = &constraint.AndExpr{X: x, Y: y}
	}
	return x.String()
}

// ignoredFiles reports the files of the package that hold shardgen
// directives but that the build excludes (a models_windows.go when
// generating on Linux): their models would be missing from the generated
// code without a word, and the generated code that refers to them is the
// same for every build.
func (l *loader) ignoredFiles() {
	for _, name := range l.pkg.IgnoredFiles {
		if strings.HasSuffix(name, "_test.go") || !strings.HasSuffix(name, ".go") {
			continue
		}
		src, err := os.ReadFile(name)
		// A generated file is excluded by its own !shardgen.
		if err != nil || !bytes.Contains(src, []byte("//shardgen:")) || bytes.Contains(src, []byte(model.Header)) {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		build := fileConstraint(f, name)
		if build == "" {
			continue // excluded for another reason (another package name...)
		}
		l.annotated = true
		l.diags.Errorf(token.Position{Filename: name, Line: 1, Column: 1},
			"this file holds shardgen directives, but its build constraint (%s) excludes it from the build shardgen loads (the GOOS, GOARCH and -tags of go generate), so its models would be missing from the generated code: run go generate for a build that includes it (the generated files carry the models' constraint)",
			build)
	}
}

func (l *loader) position(p token.Pos) token.Position { return l.pkg.Fset.Position(p) }

// posRE matches the "file:line:col" (or "file:line") of a packages.Error.
var posRE = regexp.MustCompile(`^(.*?):(\d+)(?::(\d+))?$`)

// parsePos turns a packages.Error position back into a token.Position.
func parsePos(s string) token.Position {
	m := posRE.FindStringSubmatch(s)
	if m == nil {
		return token.Position{Filename: s}
	}
	line, _ := strconv.Atoi(m[2])
	col, _ := strconv.Atoi(m[3])
	return token.Position{Filename: m[1], Line: line, Column: col}
}

// directive parses one comment as a directive and marks it consumed. It
// returns nil when the comment is not a directive or its name is unknown.
// A directive with errors (reported here) is returned as the parser's
// best-effort reading with its bad parts removed, so that the model is still
// built and checked, and no follow-on error repeats what the parser said.
func (l *loader) directive(c *ast.Comment) annotations.Directive {
	if !annotations.IsDirective(c.Text) {
		return nil
	}
	l.consumed[c] = true
	l.annotated = true
	d, errs := annotations.ParseDirective(c.Text, l.position(c.Slash))
	for _, e := range errs {
		l.diags.Errorf(e.Pos, "%s", e.Msg)
	}
	if len(errs) == 0 {
		return d
	}
	switch d := d.(type) {
	case *annotations.Database:
		if !annotations.IsSQLName(d.Name.Name) {
			return nil
		}
	case *annotations.Group:
		if !annotations.IsSQLName(d.Name.Name) {
			return nil
		}
	case *annotations.Default:
		d.Table = validTable(d.Table)
	case *annotations.Partition:
		d.Table = validTable(d.Table)
	case *annotations.Shard:
		d.Table = validTable(d.Table)
		if !token.IsIdentifier(d.Key.Name) {
			d.Key = annotations.Ident{}
		}
	}
	return d
}

// validTable drops a table= name the parser refused, so that the derived
// name is used instead.
func validTable(t *annotations.Ident) *annotations.Ident {
	if t != nil && !annotations.IsSQLName(t.Name) {
		return nil
	}
	return t
}

// header reads the package-level declarations: directives in the comment
// groups before the package clause.
func (l *loader) header(f *ast.File) {
	for _, cg := range f.Comments {
		if cg.End() >= f.Package {
			break
		}
		for _, c := range cg.List {
			switch d := l.directive(c).(type) {
			case nil:
			case *annotations.Database:
				l.out.Databases = append(l.out.Databases, &model.Database{Name: d.Name.Name, Pos: d.Name.Pos})
			case *annotations.Group:
				l.out.Groups = append(l.out.Groups, &model.Group{Name: d.Name.Name, Shards: d.Shards, Pos: d.Name.Pos, ShardsPos: d.ShardsPos})
			default:
				l.diags.Errorf(d.At(), "%s places a model and belongs in the doc comment of the struct it places, not before the package clause", directiveName(d))
			}
		}
	}
}

// directiveName is how a directive is written, for messages.
func directiveName(d annotations.Directive) string {
	switch d.(type) {
	case *annotations.Database:
		return "//shardgen:database"
	case *annotations.Group:
		return "//shardgen:group"
	case *annotations.Default:
		return "//shardgen:default"
	case *annotations.Partition:
		return "//shardgen:partition"
	case *annotations.Shard:
		return "//shardgen:shard"
	case *annotations.Cache:
		return "//shardgen:cache"
	}
	return "directive"
}

// typeDecl is one type declaration with the placement directives of its doc
// comment.
type typeDecl struct {
	spec       *ast.TypeSpec
	placements []annotations.Directive
	// caches are the //shardgen:cache directives (one is allowed).
	caches []*annotations.Cache
}

// typeDecls collects the placement directives of every top-level type
// declaration of f. A single-spec declaration has its doc on the GenDecl;
// a grouped one on each TypeSpec.
func (l *loader) typeDecls(f *ast.File) []typeDecl {
	var out []typeDecl
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			docs := []*ast.CommentGroup{ts.Doc}
			if len(gd.Specs) == 1 {
				docs = append(docs, gd.Doc)
			}
			td := typeDecl{spec: ts}
			for _, cg := range docs {
				if cg == nil {
					continue
				}
				for _, c := range cg.List {
					switch d := l.directive(c).(type) {
					case nil:
					case *annotations.Database, *annotations.Group:
						l.diags.Errorf(d.At(), "%s is a package-level declaration: put it in a comment before the package clause (for example in doc.go), not on type %s", directiveName(d), ts.Name.Name)
					case *annotations.Cache:
						td.caches = append(td.caches, d)
					default:
						td.placements = append(td.placements, d)
					}
				}
			}
			if len(td.placements) == 0 && len(td.caches) > 0 {
				l.diags.Errorf(td.caches[0].At(), "//shardgen:cache on type %s, which has no placement: a cached model is sharded (add //shardgen:shard <group> key=<Field>), its rows cached in the Redis servers of its group", ts.Name.Name)
			}
			if len(td.placements) > 0 {
				slices.SortFunc(td.placements, func(a, b annotations.Directive) int { return a.At().Offset - b.At().Offset })
				out = append(out, td)
			}
		}
	}
	return out
}

// declared records the package-level identifiers of f.
func (l *loader) declared(f *ast.File) {
	add := func(id *ast.Ident) {
		if id.Name != "_" && id.Name != "init" {
			l.out.Declared = append(l.out.Declared, model.Name{Text: id.Name, Pos: l.position(id.Pos())})
		}
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				add(d.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					add(s.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						add(n)
					}
				}
			}
		}
	}
}

// strayComments reports directives attached to nothing and comments that
// look like directives but are not.
func (l *loader) strayComments(f *ast.File) {
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if !strings.HasPrefix(c.Text, "//") {
				continue
			}
			pos := l.position(c.Slash)
			if annotations.IsDirective(c.Text) {
				if l.consumed[c] {
					continue
				}
				l.annotated = true
				hint := "model directives go in the doc comment of a struct type, directly above it, with no blank line in between"
				if d, errs := annotations.ParseDirective(c.Text, pos); len(errs) == 0 {
					switch d.(type) {
					case *annotations.Database, *annotations.Group:
						hint = "package-level declarations go in a comment before the package clause"
					}
				}
				l.diags.Warnf(pos, "directive is attached to nothing and has no effect: %s", hint)
				continue
			}
			if fix, ok := annotations.SuggestDirective(c.Text); ok {
				l.diags.Warnf(pos, "comment looks like a shardgen directive but is not one: directives start with %q, no space (did you mean %q?)",
					annotations.Prefix, fix)
			}
		}
	}
}

// model builds the model of one annotated type declaration.
func (l *loader) model(td typeDecl) *model.Model {
	ts := td.spec
	first := td.placements[0]
	for _, d := range td.placements[1:] {
		firstPos := first.At()
		l.diags.Errorf(d.At(), "type %s has a second placement %s (the first, %s, is at line %d); a model lives in exactly one place: keep one directive",
			ts.Name.Name, directiveName(d), directiveName(first), firstPos.Line)
	}
	st, isStruct := ts.Type.(*ast.StructType)
	switch {
	case ts.Assign.IsValid():
		l.diags.Errorf(first.At(), "%s is on type alias %s; only struct types can be models", directiveName(first), ts.Name.Name)
		return nil
	case !isStruct:
		kind := "not a struct"
		if obj := l.pkg.TypesInfo.Defs[ts.Name]; obj != nil {
			kind = "a " + types.TypeString(obj.Type().Underlying(), l.types.qualifier)
		}
		l.diags.Errorf(first.At(), "%s is on type %s, which is %s; only struct types can be models", directiveName(first), ts.Name.Name, kind)
		return nil
	case ts.TypeParams != nil && len(ts.TypeParams.List) > 0:
		l.diags.Errorf(first.At(), "%s is on generic type %s; generic structs cannot be models", directiveName(first), ts.Name.Name)
		return nil
	}
	m := &model.Model{
		GoName:    ts.Name.Name,
		Pos:       l.position(ts.Name.Pos()),
		Directive: first.At(),
	}
	var table *annotations.Ident
	switch d := first.(type) {
	case *annotations.Default:
		m.Placement = model.OnDefault
		table = d.Table
	case *annotations.Partition:
		m.Placement = model.OnPartition
		m.Where = model.Name{Text: d.Database.Name, Pos: d.Database.Pos}
		table = d.Table
	case *annotations.Shard:
		m.Placement = model.InGroup
		m.Where = model.Name{Text: d.Group.Name, Pos: d.Group.Pos}
		m.Key = model.Name{Text: d.Key.Name, Pos: d.Key.Pos}
		table = d.Table
	}
	if table != nil {
		m.Table, m.TablePos = table.Name, table.Pos
	} else {
		m.Table, m.TablePos = model.TableName(m.GoName), m.Pos
	}
	for i, c := range td.caches {
		if i > 0 {
			l.diags.Errorf(c.At(), "type %s has a second //shardgen:cache (the first is at line %d): keep one", ts.Name.Name, td.caches[0].At().Line)
			continue
		}
		if c.TTL > 0 { // 0: the parser reported the ttl=
			m.Cache = &model.Cache{TTL: c.TTL, Pos: c.At(), TTLPos: c.TTLPos}
		}
	}
	l.fields(m, st)
	return m
}

// fields reads the stored fields of m: exported, not skipped by db:"-".
func (l *loader) fields(m *model.Model, st *ast.StructType) {
	for _, af := range st.Fields.List {
		if len(af.Names) == 0 {
			l.diags.Errorf(l.position(af.Type.Pos()), "embedded field %s in %s is not supported: declare its fields in %s, or give it a name and tag it `shardgen:\"json\"` to store it as jsonb",
				types.ExprString(af.Type), m.GoName, m.GoName)
			continue
		}
		for _, name := range af.Names {
			if !name.IsExported() {
				// Unexported fields are the model's own business: pgx cannot
				// scan into them and generated code cannot set them.
				continue
			}
			var ft annotations.FieldTag
			if af.Tag != nil {
				// Positions map back through the literal's quotes and
				// escapes, so errors point at the source.
				var errs []annotations.Error
				ft, errs = annotations.ParseTagLiteral(af.Tag.Value, l.position(af.Tag.Pos()))
				for _, e := range errs {
					l.diags.Errorf(e.Pos, "%s", e.Msg)
				}
			}
			if ft.Skip {
				continue
			}
			f := &model.Field{
				GoName:    name.Name,
				Pos:       l.position(name.Pos()),
				Column:    model.SnakeCase(name.Name),
				PK:        ft.PK,
				Unique:    ft.Unique,
				Index:     ft.Index,
				Global:    ft.Global,
				Fold:      ft.Fold,
				Counter:   ft.Counter,
				ColumnPos: l.position(name.Pos()),
			}
			if ft.Global {
				f.GlobalPos, _ = ft.OptionPos("unique")
			}
			if ft.Fold {
				f.FoldPos, _ = ft.OptionPos("fold")
			}
			if pos, ok := ft.OptionPos("counter"); ok {
				f.CounterPos = pos
			}
			if ft.Column != nil {
				f.Column, f.ColumnPos = ft.Column.Name, ft.Column.Pos
			}
			if ft.Upsert {
				f.Upsert = true
				f.UpsertPos, _ = ft.OptionPos("upsert")
			}
			if ft.Version {
				f.Version = true
				f.VersionPos, _ = ft.OptionPos("version")
			}
			f.Type = l.fieldType(m, f, af, ft.JSON)
			m.Fields = append(m.Fields, f)
			if ft.Ref != nil {
				r := &model.Relation{From: m, Field: f, Pos: ft.Ref.Pos, ToName: model.Name{Text: ft.Ref.Name, Pos: ft.Ref.Pos}}
				if ft.Via != nil {
					r.ViaName = model.Name{Text: ft.Via.Name, Pos: ft.Via.Pos}
				}
				m.Relations = append(m.Relations, r)
			}
		}
	}
}

// fieldType maps the Go type of field f, reporting an unsupported type at
// the field's name. It returns nil for an unsupported type.
func (l *loader) fieldType(m *model.Model, f *model.Field, af *ast.Field, json bool) *model.Type {
	t := l.pkg.TypesInfo.TypeOf(af.Type)
	if t == nil || t == types.Typ[types.Invalid] {
		msg := "its type could not be determined"
		for _, e := range l.pkg.TypeErrors {
			if e.Pos >= af.Type.Pos() && e.Pos < af.Type.End() {
				msg = "its type does not compile: " + e.Msg
				break
			}
		}
		l.diags.Errorf(f.Pos, "field %s.%s: %s", m.GoName, f.GoName, msg)
		return nil
	}
	typ, bad := l.types.fieldType(t, json)
	if bad != nil {
		l.diags.Errorf(f.Pos, "field %s.%s has unsupported type %s: %s", m.GoName, f.GoName, types.TypeString(t, l.types.qualifier), bad.msg)
		return nil
	}
	return typ
}

// resolve links names to what they name: placements to databases and
// groups, shard keys, primary keys, relations. Unresolved names stay nil
// for the validator to report with a suggestion.
func (l *loader) resolve() {
	dbs := map[string]*model.Database{}
	for _, d := range l.out.Databases {
		if _, dup := dbs[d.Name]; !dup {
			dbs[d.Name] = d
		}
	}
	groups := map[string]*model.Group{}
	for _, g := range l.out.Groups {
		if _, dup := groups[g.Name]; !dup {
			groups[g.Name] = g
		}
	}
	models := map[string]*model.Model{}
	for _, m := range l.out.Models {
		models[m.GoName] = m
	}
	for _, m := range l.out.Models {
		switch m.Placement {
		case model.OnDefault:
			m.Database = dbs[model.DefaultDatabase]
		case model.OnPartition:
			// "partition default" is reported by the validator: the
			// default database is placed with //shardgen:default.
			if m.Where.Text != model.DefaultDatabase {
				m.Database = dbs[m.Where.Text]
			}
		case model.InGroup:
			m.Group = groups[m.Where.Text]
			m.ShardKey = fieldNamed(m, m.Key.Text)
		}
		if m.Database != nil {
			m.Database.Models = append(m.Database.Models, m)
		}
		if g := m.Group; g != nil {
			g.Models = append(g.Models, m)
			if g.Key == nil && m.ShardKey != nil && m.ShardKey.Type.CanShard() {
				g.Key = m.ShardKey.Type
			}
		}
		for _, f := range m.Fields {
			if f.PK && m.PK == nil {
				m.PK = f
			}
		}
		if m.PK == nil {
			// By convention a field named ID is the primary key.
			if f := fieldNamed(m, "ID"); f != nil {
				f.PK = true
				m.PK = f
			}
		}
		for _, r := range m.Relations {
			r.To = models[r.ToName.Text]
			if r.ViaName.Text != "" {
				r.Via = fieldNamed(m, r.ViaName.Text)
			}
		}
	}
}

func fieldNamed(m *model.Model, name string) *model.Field {
	for _, f := range m.Fields {
		if f.GoName == name {
			return f
		}
	}
	return nil
}
