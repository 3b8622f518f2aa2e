package model

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file names the Go identifiers and files of generated code. Every name
// the emitter writes comes from here, so that a rename is one edit and the
// validator can ask which package-level names generated code will declare.

// Generated file names that do not depend on a model.
const (
	// PackageFileName holds the package-level declarations (Spec, DB, New,
	// key and transaction types).
	PackageFileName = "shardgen.go"
	// SchemaFileName holds the DDL of every database and group, for humans.
	SchemaFileName = "shardgen_schema.sql"
	// FilePrefix starts the name of every generated file.
	FilePrefix = "shardgen_"
)

// isInitialism reports whether a word is written all upper case in Go
// names, following the Go convention (URL, not Url) so generated names read
// like hand-written ones.
func isInitialism(word string) bool {
	switch strings.ToLower(word) {
	case "acl", "api", "ascii", "cpu", "css", "dns", "eof", "guid", "html", "http",
		"https", "id", "ip", "json", "lhs", "qps", "ram", "rhs", "rpc", "sla", "smtp",
		"sql", "ssh", "tcp", "tls", "ttl", "udp", "ui", "uid", "uuid", "uri", "url",
		"utf8", "vm", "xml", "xmpp", "xsrf", "xss":
		return true
	}
	return false
}

// GoExported turns a database or group name (snake_case, as annotations
// require) into an exported Go identifier: "blog" -> "Blog", "user_data" ->
// "UserData", "api_logs" -> "APILogs".
func GoExported(name string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(name, "_") {
		if part == "" {
			continue
		}
		if isInitialism(part) {
			b.WriteString(strings.ToUpper(part))
			continue
		}
		b.WriteString(upperFirst(part))
	}
	if b.Len() == 0 {
		return "X"
	}
	s := b.String()
	if r, _ := utf8.DecodeRuneInString(s); unicode.IsDigit(r) {
		// "2024_logs" cannot start an identifier.
		s = "X" + s
	}
	return s
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// ExportedName is the model's struct name with its first letter upper-cased,
// the stem of every generated name of the model (an unexported struct
// "post" still gets an exported PostRepo).
func (m *Model) ExportedName() string { return upperFirst(m.GoName) }

// IDType names the distinct type of the model's primary key, "PostID".
func (m *Model) IDType() string { return m.ExportedName() + "ID" }

// RepoName names the model's repository type, "PostRepo".
func (m *Model) RepoName() string { return m.ExportedName() + "Repo" }

// TxRepoName names the model's transaction-bound repository, "PostTxRepo".
func (m *Model) TxRepoName() string { return m.ExportedName() + "TxRepo" }

// DBField names the model's repository field of the generated DB struct and
// method of the transaction types: the plural of the struct name, "Posts",
// "Categories", "PageViews".
func (m *Model) DBField() string { return GoPlural(m.ExportedName()) }

// FileName is the model's generated file, "shardgen_posts.go". Use
// Package.FileNames to get collision-free names for a whole package.
func (m *Model) FileName() string { return goFileName(FilePrefix + m.Table) }

// goFileName appends ".go" to stem, first adding "_model" when the stem's
// last elements would make the go command treat the file as a test or as
// specific to one GOOS/GOARCH (a table "windows" must not yield
// shardgen_windows.go, which only builds on Windows).
func goFileName(stem string) string {
	parts := strings.Split(stem, "_")
	n := len(parts)
	last := parts[n-1]
	constrained := last == "test" || knownOS(last) || knownArch(last) ||
		(n >= 2 && knownOS(parts[n-2]) && knownArch(last))
	if constrained {
		stem += "_model"
	}
	return stem + ".go"
}

// FileNames returns the generated file name of every model of p, keyed by
// model. Names are unique: when two models share a table name (on different
// databases or groups), both files get the lower-cased struct name appended.
func (p *Package) FileNames() map[*Model]string {
	byTable := map[string]int{}
	for _, m := range p.Models {
		byTable[m.Table]++
	}
	names := make(map[*Model]string, len(p.Models))
	for _, m := range p.Models {
		if byTable[m.Table] > 1 {
			names[m] = goFileName(FilePrefix + m.Table + "_" + strings.ToLower(m.GoName))
			continue
		}
		names[m] = m.FileName()
	}
	return names
}

// KeyType names the group's shard-key type, "BlogKey".
func (g *Group) KeyType() string { return GoExported(g.Name) + "Key" }

// TxType names the group's shard-bound transaction type, "BlogTx".
func (g *Group) TxType() string { return GoExported(g.Name) + "Tx" }

// InShardFunc names the DB method that runs a transaction on the shard of
// a key, "InBlogShard".
func (g *Group) InShardFunc() string { return "In" + GoExported(g.Name) + "Shard" }

// FieldName names the unexported DB field holding the resolved group.
func (g *Group) FieldName() string { return "group" + GoExported(g.Name) }

// TxType names the database's transaction type, "DefaultTx", "AnalyticsTx".
func (d *Database) TxType() string { return GoExported(d.Name) + "Tx" }

// InTxFunc names the DB method that runs a transaction on the database,
// "InDefaultTx".
func (d *Database) InTxFunc() string { return "In" + GoExported(d.Name) + "Tx" }

// FieldName names the unexported DB field holding the resolved database.
func (d *Database) FieldName() string { return "database" + GoExported(d.Name) }

// AccessorName names the relation accessor on the referencing model's
// repository: the field name without its "ID" suffix after "ListBy"
// (PostID -> "ListByPost", ParentID -> "ListByParent", Author -> "ListByAuthor").
func (r *Relation) AccessorName() string {
	name := r.Field.GoName
	for _, suffix := range []string{"ID", "Id"} {
		if s, ok := strings.CutSuffix(name, suffix); ok && s != "" {
			name = s
			break
		}
	}
	return "ListBy" + upperFirst(name)
}

// GoPlural returns the plural of a CamelCase Go name by pluralizing its
// last word: Post -> Posts, Category -> Categories, Address -> Addresses,
// PageView -> PageViews, Box -> Boxes, Day -> Days.
func GoPlural(name string) string {
	lower := strings.ToLower(name)
	switch {
	case lower == "":
		return name
	case strings.HasSuffix(lower, "y") && len(lower) > 1 && !strings.ContainsRune("aeiou", rune(lower[len(lower)-2])):
		return name[:len(name)-1] + "ies"
	case strings.HasSuffix(lower, "s"), strings.HasSuffix(lower, "x"), strings.HasSuffix(lower, "z"),
		strings.HasSuffix(lower, "ch"), strings.HasSuffix(lower, "sh"):
		return name + "es"
	default:
		return name + "s"
	}
}

// GeneratedIdents returns every package-level identifier the generated code
// of p declares, sorted. The validator can report a user declaration that
// would clash with one of them; CheckGeneratedNames reports clashes among
// them.
func (p *Package) GeneratedIdents() []string {
	// The unexported argument helpers of shardgen.go are declared only
	// when a model needs them; they are listed always, so that a package
	// cannot start clashing when a field type changes.
	idents := []string{"DB", "New", "Spec", "shardgenJSON", "shardgenUUID"}
	for _, d := range p.Databases {
		if len(d.Models) > 0 {
			idents = append(idents, d.TxType())
		}
	}
	for _, g := range p.Groups {
		idents = append(idents, g.KeyType(), g.TxType())
	}
	for _, m := range p.Models {
		idents = append(idents, m.IDType(), m.RepoName(), m.TxRepoName())
	}
	slices.Sort(idents)
	return idents
}

// CheckGeneratedNames reports an error naming the first two declarations of
// generated code that would have the same name (two models "Post" and
// "post", or models "Box" and "Boxe" whose DB fields would both be
// "Boxes"), so that the emitter never writes code that fails to compile.
func (p *Package) CheckGeneratedNames() error {
	seen := map[string]string{}
	add := func(name, what string) error {
		if prev, dup := seen[name]; dup {
			return fmt.Errorf("generated name %s of %s clashes with %s", name, what, prev)
		}
		seen[name] = what
		return nil
	}
	for _, name := range []string{"DB", "New", "Spec"} {
		if err := add(name, "the package"); err != nil {
			return err
		}
	}
	for _, d := range p.Databases {
		if len(d.Models) == 0 {
			continue
		}
		if err := add(d.TxType(), "database "+d.Name); err != nil {
			return err
		}
	}
	for _, g := range p.Groups {
		for _, name := range []string{g.KeyType(), g.TxType()} {
			if err := add(name, "group "+g.Name); err != nil {
				return err
			}
		}
	}
	for _, m := range p.Models {
		for _, name := range []string{m.IDType(), m.RepoName(), m.TxRepoName()} {
			if err := add(name, "model "+m.GoName); err != nil {
				return err
			}
		}
	}
	// DB struct fields and methods share one namespace.
	members := map[string]string{}
	addMember := func(name, what string) error {
		if prev, dup := members[name]; dup {
			return fmt.Errorf("generated DB member %s of %s clashes with %s", name, what, prev)
		}
		members[name] = what
		return nil
	}
	for _, d := range p.Databases {
		if err := addMember(d.InTxFunc(), "database "+d.Name); err != nil {
			return err
		}
	}
	for _, g := range p.Groups {
		if err := addMember(g.InShardFunc(), "group "+g.Name); err != nil {
			return err
		}
	}
	for _, m := range p.Models {
		if err := addMember(m.DBField(), "model "+m.GoName); err != nil {
			return err
		}
	}
	// Relation accessors share the repository's method set: fields PostID
	// and Post would both give ListByPost.
	for _, m := range p.Models {
		methods := map[string]string{}
		for _, r := range m.Relations {
			if r.Field == nil {
				continue
			}
			name := r.AccessorName()
			if prev, dup := methods[name]; dup {
				return fmt.Errorf("relation accessor %s.%s of field %s clashes with the one of field %s", m.RepoName(), name, r.Field.GoName, prev)
			}
			methods[name] = r.Field.GoName
		}
	}
	return nil
}

// knownOS and knownArch mirror go/build's lists (internal/syslist): a file
// name ending in one of them is built only for that system.
func knownOS(s string) bool {
	switch s {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios",
		"js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1",
		"windows", "zos":
		return true
	}
	return false
}

func knownArch(s string) bool {
	switch s {
	case "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64",
		"mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
		"ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64",
		"wasm":
		return true
	}
	return false
}
