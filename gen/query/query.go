package query

import (
	"errors"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/gen/validate"
	"github.com/shardgen/shardgen/runtime"
)

// placeholderSchema is the schema sqlc sees the target's tables in. It is
// sqlc's default schema, so the unqualified names users write resolve
// there and nowhere else: a table of another database is simply absent.
const placeholderSchema = `"public"`

// set is the work on one queries/<name> directory.
type set struct {
	pkg     *model.Package
	out     *model.QuerySet
	models  []*model.Model
	tables  map[string]*model.Model
	files   []string
	sources map[string][]*source // by file
	byName  map[string]*source
	// unchecked is set when the gate refused the set: sqlc does not see it.
	unchecked bool
}

// Gate says why the queries of target (a database or group of p) cannot
// be checked against its schema, such as a model of it with errors, or ""
// when they can.
type Gate func(p *model.Package, target *model.QuerySet) string

// Packages finds the custom SQL of every package (see the package
// documentation for the layout), type-checks it with sqlc against the
// schema of the one database or shard group it runs on, and records the
// typed queries in each package's Queries. Every problem goes to diags
// with the position in the user's .sql file. The queries of a database or
// group that gate refuses (its schema cannot be rendered faithfully) get
// only their files and headers checked, and a warning that says so and why.
func Packages(pkgs []*model.Package, gate Gate, diags *diag.List) {
	var sets []*set
	for _, p := range pkgs {
		sets = append(sets, discover(p, gate, diags)...)
	}
	if len(sets) == 0 {
		return
	}
	names := map[*model.Package]map[string]*source{}
	for _, s := range sets {
		seen := names[s.pkg]
		if seen == nil {
			seen = map[string]*source{}
			names[s.pkg] = seen
		}
		for _, f := range s.files {
			for _, src := range s.sources[f] {
				if prev, dup := seen[src.name]; dup {
					diags.Errorf(src.pos, "query %s is already defined at %s: query names must be unique in a package (they name the generated methods and types)", src.name, shortPos(prev.pos))
					continue
				}
				seen[src.name] = src
				s.byName[src.name] = src
				checkUnqualified(s, src, diags)
				checkFanOut(s, src, diags)
			}
		}
	}
	var run []sqlcSet
	var runSets []*set
	for _, s := range sets {
		if len(s.files) == 0 || s.unchecked {
			continue
		}
		tables, err := ddl.Tables(s.models)
		if err != nil {
			diags.Errorf(token.Position{Filename: s.out.Dir}, "rendering the schema of %s for sqlc: %v", what(s.out), err)
			continue
		}
		run = append(run, sqlcSet{schema: strings.ReplaceAll(tables, runtime.SchemaToken, placeholderSchema), files: s.files})
		runSets = append(runSets, s)
	}
	if len(run) == 0 {
		return
	}
	res, err := runSqlc(run)
	if err != nil {
		diags.Errorf(token.Position{Filename: runSets[0].pkg.Dir}, "running sqlc: %v", err)
		return
	}
	if len(res.errors) > 0 {
		for _, e := range res.errors {
			reportSqlc(e, runSets, diags)
		}
		return
	}
	for i, s := range runSets {
		build(s, res.requests[i], diags)
	}
	for _, p := range pkgs {
		validate.QueryNames(p, diags)
	}
}

func shortPos(p token.Position) string {
	return fmt.Sprintf("%s:%d:%d", filepath.Base(p.Filename), p.Line, p.Column)
}

func what(s *model.QuerySet) string {
	if s.Group != nil {
		return fmt.Sprintf("group %q", s.Group.Name)
	}
	return fmt.Sprintf("database %q", s.Database.Name)
}

// discover lists queries/<name>/*.sql of p and splits every file.
func discover(p *model.Package, gate Gate, diags *diag.List) []*set {
	root := filepath.Join(p.Dir, model.QueriesDir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		diags.Errorf(token.Position{Filename: root}, "reading the queries directory: %v", err)
		return nil
	}
	var sets []*set
	for _, e := range entries {
		path := filepath.Join(root, e.Name())
		if !e.IsDir() {
			if strings.HasSuffix(e.Name(), ".sql") {
				diags.Errorf(token.Position{Filename: path}, "query file directly in %s/: put it in %s/<database or group>/ so shardgen knows where it runs", model.QueriesDir, model.QueriesDir)
			}
			continue
		}
		s := &set{pkg: p, out: &model.QuerySet{Dir: path}, tables: map[string]*model.Model{},
			sources: map[string][]*source{}, byName: map[string]*source{}}
		name := e.Name()
		for _, d := range p.Databases {
			if d.Name == name {
				s.out.Database = d
				s.models = d.Models
			}
		}
		for _, g := range p.Groups {
			if g.Name == name {
				if s.out.Database != nil {
					diags.Errorf(token.Position{Filename: path}, "%q names both a database and a shard group", name)
				}
				s.out.Group = g
				s.models = g.Models
			}
		}
		if s.out.Database == nil && s.out.Group == nil {
			diags.Errorf(token.Position{Filename: path}, "no database or shard group is named %q (%s): the directory of a query file names the database or group its queries run on", name, declared(p))
			continue
		}
		if reason := gate(p, s.out); reason != "" {
			diags.Warnf(token.Position{Filename: path}, "the queries of %s were not checked against its tables: %s", what(s.out), reason)
			s.unchecked = true
		} else if len(s.models) == 0 {
			diags.Errorf(token.Position{Filename: path}, "%s has no models, so its queries would have no tables", what(s.out))
			continue
		}
		for _, m := range s.models {
			s.tables[m.Table] = m
		}
		files, err := filepath.Glob(filepath.Join(path, "*.sql"))
		if err != nil {
			diags.Errorf(token.Position{Filename: path}, "listing query files: %v", err)
			continue
		}
		slices.Sort(files)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				diags.Errorf(token.Position{Filename: f}, "reading query file: %v", err)
				continue
			}
			var fd diag.List
			srcs := split(f, src, &fd)
			diags.Append(&fd)
			if fd.Errors() > 0 {
				// sqlc would report the same problems in its own words.
				continue
			}
			if len(srcs) == 0 {
				diags.Warnf(token.Position{Filename: f}, "no named queries in this file")
				continue
			}
			s.files = append(s.files, f)
			s.sources[f] = srcs
		}
		if s.out.Group != nil || s.out.Database != nil {
			p.Queries = append(p.Queries, s.out)
		}
		sets = append(sets, s)
	}
	return sets
}

// declared lists the databases and groups of p for a message.
func declared(p *model.Package) string {
	var names []string
	for _, d := range p.Databases {
		names = append(names, "database "+d.Name)
	}
	for _, g := range p.Groups {
		names = append(names, "group "+g.Name)
	}
	return "declared: " + strings.Join(names, ", ")
}

// checkUnqualified refuses schema-qualified table names in a query: the
// schema is the shard's (or "public" on a database) and shardgen writes
// it; a name written with a schema would bypass routing. It also refuses a
// common table expression named like a table of the target.
func checkUnqualified(s *set, src *source, diags *diag.List) {
	rels, ctes, err := tableRefs(src.text)
	if err != nil {
		return // sqlc reports syntax errors with their position
	}
	// A common table expression named like a table would make the same
	// name mean two things in one statement; qualifying by name could not
	// tell them apart.
	for name, off := range ctes {
		if s.tables[name] != nil {
			diags.Errorf(src.position(off), "query %s: the common table expression %q has the name of table %q of %s: rename it", src.name, name, name, what(s.out))
		}
	}
	for _, r := range rels {
		if r.schema == "" || r.schema == "pg_catalog" || r.schema == "information_schema" {
			continue
		}
		diags.Errorf(src.position(r.offset), "query %s: table %s.%s is schema-qualified: write table names without a schema; shardgen qualifies them with the schema of the shard (or database) the query runs on", src.name, r.schema, r.name)
	}
}

// checkFanOut checks where -- shardgen:fanout may be written.
func checkFanOut(s *set, src *source, diags *diag.List) {
	switch {
	case !src.fanOut:
	case s.out.Group == nil:
		diags.Errorf(src.fanOutPos, "query %s: -- shardgen:fanout is for queries on a shard group; %s is one database", src.name, what(s.out))
	case src.cmd != model.CmdMany:
		diags.Errorf(src.fanOutPos, "query %s: -- shardgen:fanout needs a :many query (the rows of every shard are merged)", src.name)
	}
}

// missingRelation matches sqlc's message for an unknown table.
var missingRelation = regexp.MustCompile(`^relation "([^"]+)" does not exist$`)

// reportSqlc turns one line of sqlc's output into a diagnostic in the
// user's file. An unknown table that exists on another database or group
// gets an explanation, at the table's own position.
func reportSqlc(e sqlcError, sets []*set, diags *diag.List) {
	if e.set >= 0 {
		diags.Errorf(token.Position{Filename: sets[e.set].out.Dir}, "internal error: sqlc rejected the schema shardgen rendered for %s: %d:%d: %s", what(sets[e.set].out), e.line, e.col, e.msg)
		return
	}
	if e.file == "" {
		diags.Errorf(token.Position{}, "sqlc: %s", e.msg)
		return
	}
	pos := token.Position{Filename: e.file, Line: e.line, Column: e.col}
	msg := e.msg
	s, src := findSource(sets, e.file, e.line)
	if m := missingRelation.FindStringSubmatch(e.msg); m != nil && s != nil {
		name := m[1]
		if src != nil {
			if rels, _, err := tableRefs(src.text); err == nil {
				for _, r := range rels {
					if r.name == name && r.schema == "" {
						pos = src.position(r.offset)
						break
					}
				}
			}
		}
		msg = fmt.Sprintf("%s in %s", msg, what(s.out))
		if other := elsewhere(s, name); other != "" {
			msg += fmt.Sprintf(": table %q is %s; a query runs on one database or one shard and cannot read tables of another (query each side and join in Go)", name, other)
		}
	}
	if src != nil {
		msg = fmt.Sprintf("query %s: %s", src.name, msg)
	}
	diags.Errorf(pos, "%s (sqlc)", msg)
}

// findSource finds the set of a file and the query containing a line.
func findSource(sets []*set, file string, line int) (*set, *source) {
	for _, s := range sets {
		srcs, ok := s.sources[file]
		if !ok {
			continue
		}
		var found *source
		for _, src := range srcs {
			if src.pos.Line <= line {
				found = src
			}
		}
		return s, found
	}
	return nil, nil
}

// elsewhere says where a table missing from s lives, if on another
// database or group of the package.
func elsewhere(s *set, table string) string {
	for _, m := range s.pkg.Models {
		if m.Table != table {
			continue
		}
		if m.Placement == model.InGroup {
			if m.Group == s.out.Group {
				continue
			}
			return fmt.Sprintf("sharded in group %q (model %s)", m.Group.Name, m.GoName)
		}
		if m.Database == s.out.Database {
			continue
		}
		return fmt.Sprintf("on database %q (model %s)", m.Database.Name, m.GoName)
	}
	return ""
}

// build turns sqlc's description of a set's queries into the model.
func build(s *set, req *sqlcRequest, diags *diag.List) {
	for _, q := range req.Queries {
		src := s.byName[q.Name]
		if src == nil {
			diags.Errorf(token.Position{Filename: s.out.Dir}, "internal error: sqlc returned query %s that shardgen did not find in the files", q.Name)
			continue
		}
		out := &model.Query{Name: q.Name, Cmd: model.QueryCmd(q.Cmd), Pos: src.pos, Doc: src.doc, FanOut: src.fanOut}
		if out.Cmd != src.cmd {
			diags.Errorf(src.pos, "internal error: sqlc read query %s as %s", q.Name, q.Cmd)
			continue
		}
		sql, err := qualify(q.Text, tableSet(s.tables))
		if err != nil {
			diags.Errorf(src.pos, "query %s: %v", q.Name, err)
			continue
		}
		out.SQL = sql
		ok := true
		for _, p := range q.Params {
			if p.Column.IsSqlcSlice || p.Column.EmbedTable != nil {
				diags.Errorf(src.pos, "query %s: sqlc.slice and sqlc.embed are not supported; use = ANY($1::bigint[]) for a list", q.Name)
				ok = false
			}
			name := p.Column.Name
			if name == "" {
				name = "column_" + strconv.Itoa(p.Number)
			}
			out.Params = append(out.Params, &model.QueryField{Name: name, SQLType: sqlTypeText(p.Column),
				Type: goType(p.Column.typeName(), p.Column.NotNull, p.Column.IsArray || p.Column.ArrayDims > 0)})
		}
		for i, c := range q.Columns {
			if c.EmbedTable != nil {
				diags.Errorf(src.pos, "query %s: sqlc.embed is not supported", q.Name)
				ok = false
			}
			name := c.Name
			if name == "" {
				name = "column_" + strconv.Itoa(i+1)
			}
			out.Columns = append(out.Columns, &model.QueryField{Name: name, SQLType: sqlTypeText(c),
				Type: goType(c.typeName(), c.NotNull, c.IsArray || c.ArrayDims > 0)})
		}
		if !ok {
			continue
		}
		if (out.Cmd == model.CmdOne || out.Cmd == model.CmdMany) && len(out.Columns) == 0 {
			diags.Errorf(src.pos, "query %s is %s but returns no columns: use :exec or :execrows, or add RETURNING", q.Name, q.Cmd)
			continue
		}
		goNames(out.Params)
		goNames(out.Columns)
		for i, p := range q.Params {
			typeKnown(s, out.Params[i], p.Column)
		}
		for i, c := range q.Columns {
			typeKnown(s, out.Columns[i], c)
		}
		if s.out.Group != nil && !route(s, src, q.Text, out, diags) {
			continue
		}
		if out.Cmd == model.CmdOne || out.Cmd == model.CmdMany {
			out.RowModel = rowModel(s, q.Columns)
		}
		s.out.Queries = append(s.out.Queries, out)
	}
	// Keep the file order, whatever order sqlc returned.
	order := map[string]int{}
	i := 0
	for _, f := range s.files {
		for _, src := range s.sources[f] {
			order[src.name] = i
			i++
		}
	}
	slices.SortStableFunc(s.out.Queries, func(a, b *model.Query) int { return order[a.Name] - order[b.Name] })
}

func tableSet(tables map[string]*model.Model) map[string]bool {
	out := make(map[string]bool, len(tables))
	for t := range tables {
		out[t] = true
	}
	return out
}

func sqlTypeText(c sqlcColumn) string {
	t := strings.TrimPrefix(c.typeName(), "pg_catalog.")
	if c.IsArray || c.ArrayDims > 0 {
		t += "[]"
	}
	if !c.NotNull {
		t += " (nullable)"
	}
	return t
}

// goNames derives unique exported Go names from the SQL names, the way
// sqlc does: author_id -> AuthorID, a second id -> ID_2.
func goNames(fs []*model.QueryField) {
	seen := map[string]int{}
	for _, f := range fs {
		name := model.GoExported(f.Name)
		seen[name]++
		if n := seen[name]; n > 1 {
			name += "_" + strconv.Itoa(n)
		}
		f.GoName = name
	}
}

// rowModel returns the model whose table's columns are exactly cols, in
// order (SELECT * or p.* of one model's table): such rows are read into
// the model's own struct, as sqlc does.
func rowModel(s *set, cols []sqlcColumn) *model.Model {
	if len(cols) == 0 || cols[0].Table == nil {
		return nil
	}
	m := s.tables[cols[0].Table.Name]
	if m == nil || len(m.Fields) != len(cols) {
		return nil
	}
	for i, c := range cols {
		if c.Table == nil || c.Table.Name != m.Table || c.Name != m.Fields[i].Column {
			return nil
		}
	}
	return m
}

// typeKnown gives f the ID type of the model whose primary key column it
// is, or the key type of the group whose shard key column it is, when sqlc
// knows the column's table and f is a NOT NULL scalar of that type.
func typeKnown(s *set, f *model.QueryField, c sqlcColumn) {
	if c.Table == nil || f.Type.Pointer || f.Type.Slice || f.Type.Ident.ImportPath != "" {
		return
	}
	m := s.tables[c.Table.Name]
	if m == nil || m.PK == nil {
		return
	}
	col := c.OriginalName
	if col == "" {
		col = c.Name
	}
	switch {
	case col == m.PK.Column && f.Type.Ident.Name == "int64":
		f.ID = m
	case m.Placement == model.InGroup && m.ShardKey != nil && col == m.ShardKey.Column && m.Group.Key != nil && f.Type.Ident.Name == m.Group.Key.Kind.String():
		f.Key = m.Group
	}
}

// route sets out.Route to the parameter the query pins the group's shard
// key with (see route.go). A query pinning it with two parameters, or a
// pinned query marked -- shardgen:fanout, is an error (false).
func route(s *set, src *source, sql string, out *model.Query, diags *diag.List) bool {
	eqs, err := keyEqualities(sql, s.tables)
	if err != nil {
		diags.Errorf(src.pos, "query %s: parse the statement sqlc produced: %v", out.Name, err)
		return false
	}
	for _, eq := range eqs {
		if eq.param < 1 || eq.param > len(out.Params) {
			continue
		}
		p := out.Params[eq.param-1]
		if p.Type.Pointer || p.Type.Slice || s.out.Group.Key == nil || p.Type.Ident.ImportPath != "" || p.Type.Ident.Name != s.out.Group.Key.Kind.String() {
			continue
		}
		switch {
		case out.Route == nil:
			out.Route = p
		case out.Route != p:
			diags.Errorf(src.pos, "query %s compares the shard key with two parameters, $%d (%s) and $%d (%s): they would have to be equal for any row to match, and only one can choose the shard; use one parameter", out.Name, paramNumber(out, out.Route), out.Route.Name, eq.param, p.Name)
			return false
		}
	}
	if out.Route == nil {
		return true
	}
	out.Route.ID, out.Route.Key = nil, s.out.Group
	if out.FanOut {
		diags.Errorf(src.fanOutPos, "query %s: -- shardgen:fanout asks every shard, but the query compares the shard key with $%d (%s), so only that key's shard has rows: drop the directive (the method runs on that shard)", out.Name, paramNumber(out, out.Route), out.Route.Name)
		return false
	}
	return true
}

func paramNumber(q *model.Query, p *model.QueryField) int {
	for i, x := range q.Params {
		if x == p {
			return i + 1
		}
	}
	return 0
}
