// Package emit turns a validated model.Package into the generated Go files
// and SQL DDL of one annotated package. It is pure: it returns files as data
// and never writes to disk.
//
// Go code is built with github.com/dave/jennifer: identifiers are typed and
// imports are derived from jen.Qual, never assembled as strings. Generated
// names come from gen/model/gonames.go; DDL comes from gen/ddl.
package emit

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"path"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/imports"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
)

// File is one generated file.
type File struct {
	// Name is the base file name, written into the package directory.
	Name string
	// Content is the gofmt'ed file content.
	Content []byte
}

// Header starts every generated file.
const Header = model.Header

// BuildConstraint is on every generated Go file. The loader builds with
// -tags=shardgen, so stale or broken generated code never stops shardgen
// from loading the package it regenerates.
const BuildConstraint = "!shardgen"

// Package renders every generated file of p, sorted by Name: shardgen.go,
// one shardgen_<table>.go per model and shardgen_schema.sql. It expects a
// validated package (gen/validate has decided names and co-location); an
// error means an internal failure (generated code that does not parse).
func Package(p *model.Package) ([]File, error) {
	targets, err := ddl.Targets(p)
	if err != nil {
		return nil, fmt.Errorf("shardgen: emit %s: %w", p.Path, err)
	}
	e := newEmitter(p, targets)
	type pending struct {
		name string
		file *jen.File
	}
	todo := []pending{{model.PackageFileName, e.packageFile()}}
	names := p.FileNames()
	for _, m := range p.Models {
		todo = append(todo, pending{names[m], e.modelFile(e.models[m])})
	}
	if p.UsesRedis() {
		todo = append(todo, pending{p.RedisFileName(), e.redisFile()}) // counters and caches (redis.go)
	}
	if len(querySets(p)) > 0 {
		todo = append(todo, pending{queryFileName(p), e.queryFile()}) // custom SQL (query.go)
	}
	// Formatting and parsing dominate the run time (about 3 ms per model
	// file); files are independent, so render them on every CPU. Results
	// go to fixed slots, so the output does not depend on scheduling.
	files := make([]File, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, goruntime.GOMAXPROCS(0))
	for i, t := range todo {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			src, err := render(t.name, t.file)
			files[i], errs[i] = File{Name: t.name, Content: src}, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("shardgen: emit %s: %w", p.Path, err)
	}
	schema, err := ddl.SchemaFile(p, targets)
	if err != nil {
		return nil, fmt.Errorf("shardgen: emit %s: %w", p.Path, err)
	}
	files = append(files, File{Name: model.SchemaFileName, Content: schema})
	slices.SortFunc(files, func(a, b File) int { return cmp.Compare(a.Name, b.Name) })
	return files, nil
}

// newFile starts a generated Go file with the header and build constraint.
func (e *emitter) newFile() *jen.File {
	f := jen.NewFilePathName(e.p.Path, e.p.Name)
	build := BuildConstraint
	if c := e.p.BuildConstraint(); c != "" {
		// The models' own constraint (see model.Package.BuildConstraint).
		build += " && (" + c + ")"
	}
	f.HeaderComment("// " + Header + "\n\n//go:build " + build)
	// Every package is imported under the name the model decided, so that
	// no import clashes with a declaration of the package; a standard
	// package keeps its own name without an alias when it can.
	for path, name := range e.imports {
		if name == stdName(path) {
			f.ImportName(path, name)
		} else {
			f.ImportAlias(path, name)
		}
	}
	// Formatting happens in render, so that an error names the file.
	f.NoFormat = true
	return f
}

// stdName is the name of a standard-library package (whose path has no dot
// in its first element, "sync/atomic" -> "atomic"), or of a package of
// shardgen's known to be imported under its own name; "" otherwise.
func stdName(importPath string) string {
	switch importPath {
	case runtimePath:
		return "runtime"
	case pgxPath:
		return "pgx"
	case pgtypePath:
		return "pgtype"
	case shardredisPath:
		return "shardredis"
	}
	first, _, _ := strings.Cut(importPath, "/")
	if strings.Contains(first, ".") {
		return ""
	}
	return path.Base(importPath)
}

// render formats f's source as gofmt and goimports do, imports grouped
// standard library first, so that Package never returns Go source that does
// not parse as a whole file. goimports only formats here (FormatOnly): jen
// has written every import the file needs.
func render(name string, f *jen.File) ([]byte, error) {
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	src, err := imports.Process(name, buf.Bytes(), &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	return src, nil
}
