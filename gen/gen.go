// Package gen is the core of the shardgen command: it loads annotated Go
// packages, validates their model and renders the generated files, returning
// everything as data. Writing is a separate step so that a run with any
// error writes nothing, and so that -check can compare without writing.
package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/emit"
	"github.com/shardgen/shardgen/gen/load"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/gen/query"
	"github.com/shardgen/shardgen/gen/validate"
)

// Options says what to generate.
type Options struct {
	// Dir is the directory the patterns are resolved in ("" = current).
	Dir string
	// Patterns are go/packages patterns; none means ".".
	Patterns []string
	// Env is the environment of the go command the loader runs; nil means
	// os.Environ().
	Env []string
	// KeepRemoved replaces each generated Go file that is no longer part of
	// the output with a stub (the header and the package clause) instead of
	// removing it. go generate reads every file of a package after running
	// a generator in it, and of the packages it has not reached yet, so a
	// file deleted under it fails the run; shardgen sets this when it runs
	// under go generate. A run outside go generate removes the stubs, and
	// Stale counts a stub as removed.
	KeepRemoved bool
}

// OutputFile is one file of the generated output.
type OutputFile struct {
	// Path is absolute.
	Path string
	// Content is what the file must hold. When Remove is set, it is the
	// stub that may stand in for a removed Go file (see Options.KeepRemoved),
	// or nil.
	Content []byte
	// Remove marks a file shardgen generated earlier that is no longer part
	// of the output (its model was renamed or removed): it must be deleted,
	// or its stale declarations would break the build.
	Remove bool
}

// Result is the outcome of one run.
type Result struct {
	// Packages are the models of the annotated packages.
	Packages []*model.Package
	// Files are the generated files, sorted by path; empty when Diags holds
	// an error.
	Files []OutputFile
	// Diags are the problems found, errors and warnings.
	Diags diag.List
}

// header is the first line of every generated file; a file that has it is
// shardgen's to overwrite or remove.
const header = model.Header

// Generate loads the packages, validates them and renders their files. It
// writes nothing. Files are produced only when no error was found: every
// problem of every package is in Diags.
func Generate(opts Options) *Result {
	res := &Result{}
	res.Packages = load.Packages(load.Config{Dir: opts.Dir, Env: opts.Env}, opts.Patterns, &res.Diags)
	for _, p := range res.Packages {
		validate.Package(p, &res.Diags)
		// What the edit does to the tables the previous version uses: the
		// schema generated last time says.
		if prev, err := os.ReadFile(filepath.Join(p.Dir, model.SchemaFileName)); err == nil {
			ddl.Evolve(p, prev, &res.Diags)
		}
	}
	// Custom SQL (queries/<database or group>/*.sql) is type-checked by
	// sqlc against the schema of each database or group whose models are
	// valid; the others get only their query files checked, and a warning.
	query.Packages(res.Packages, queryGate(&res.Diags), &res.Diags)
	if len(res.Packages) == 0 && res.Diags.Errors() == 0 {
		res.Diags.Warnf(token.Position{}, "no shardgen directives found in %s; nothing to generate", strings.Join(patternsOrDot(opts.Patterns), " "))
	}
	if res.Diags.Errors() > 0 {
		return res
	}
	var files []OutputFile
	for _, p := range res.Packages {
		out, err := emit.Package(p)
		if err != nil {
			res.Diags.Errorf(token.Position{Filename: p.Dir}, "generating package %s: %v", p.Path, err)
			continue
		}
		keep := map[string]bool{}
		for _, f := range out {
			path := filepath.Join(p.Dir, f.Name)
			keep[path] = true
			files = append(files, OutputFile{Path: path, Content: f.Content})
		}
		old, err := generatedFiles(p.Dir)
		if err != nil {
			res.Diags.Errorf(token.Position{Filename: p.Dir}, "listing generated files: %v", err)
			continue
		}
		for _, path := range old {
			if keep[path] {
				continue
			}
			f := OutputFile{Path: path, Remove: true}
			if strings.HasSuffix(path, ".go") {
				f.Content = stub(p.Name)
			}
			if opts.KeepRemoved && f.Content != nil {
				f.Remove = false
			}
			files = append(files, f)
		}
	}
	if res.Diags.Errors() > 0 {
		return res
	}
	slices.SortFunc(files, func(a, b OutputFile) int { return strings.Compare(a.Path, b.Path) })
	res.Files = files
	return res
}

// stub is the content that stands in for a removed generated Go file of
// package name (see Options.KeepRemoved).
func stub(name string) []byte {
	return []byte("// " + header + "\n\n//go:build " + emit.BuildConstraint + "\n\n" +
		"// This file is empty: what shardgen generated here is gone. It was kept\n" +
		"// because go generate was running; run shardgen outside go generate (or\n" +
		"// delete the file) to remove it.\n\npackage " + name + "\n")
}

func patternsOrDot(p []string) []string {
	if len(p) == 0 {
		return []string{"."}
	}
	return p
}

// generatedFiles lists the files of dir that an earlier run generated: named
// shardgen.go, shardgen_*.go or shardgen_*.sql and carrying the header.
// A hand-written file with a similar name is never touched.
func generatedFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, "shardgen") ||
			!(name == "shardgen.go" || strings.HasPrefix(name, "shardgen_") && (strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".sql"))) {
			continue
		}
		path := filepath.Join(dir, name)
		ok, err := hasHeader(path)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, path)
		}
	}
	return out, nil
}

// hasHeader reports whether the file's first lines carry the generated-code
// header.
func hasHeader(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 1024)
	n, _ := f.Read(buf)
	return bytes.Contains(buf[:n], []byte(header)), nil
}

// Write writes every file atomically: each is written to a temporary file
// in its directory, and only when all of them are written are they renamed
// into place (and obsolete files removed). A failure before the renames
// leaves the package untouched. A file whose content is already on disk is
// not written again, so its modification time (which build and make caches
// go by) stays. Callers must not call Write when the Result has errors.
func Write(files []OutputFile) error {
	files = slices.DeleteFunc(slices.Clone(files), func(f OutputFile) bool {
		if f.Remove {
			return false
		}
		old, err := os.ReadFile(f.Path)
		return err == nil && bytes.Equal(old, f.Content)
	})
	var temps []string
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for _, f := range files {
		if f.Remove {
			temps = append(temps, "")
			continue
		}
		t, err := writeTemp(f)
		if err != nil {
			cleanup()
			return err
		}
		temps = append(temps, t)
	}
	var errs []error
	for i, f := range files {
		if f.Remove {
			if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if err := os.Rename(temps[i], f.Path); err != nil {
			os.Remove(temps[i])
			errs = append(errs, fmt.Errorf("writing %s: %w", f.Path, err))
		}
	}
	return errors.Join(errs...)
}

// writeTemp writes f's content to a new temporary file next to f.Path.
func writeTemp(f OutputFile) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".shardgen-*.tmp")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", f.Path, err)
	}
	_, werr := tmp.Write(f.Content)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("writing %s: %w", f.Path, err)
	}
	return tmp.Name(), nil
}

// Stale compares files with what is on disk and returns one unified diff per
// file that differs, is missing, or should be removed; none means the
// generated code is up to date.
func Stale(files []OutputFile) ([]string, error) {
	var diffs []string
	for _, f := range files {
		old, err := os.ReadFile(f.Path)
		missing := errors.Is(err, os.ErrNotExist)
		if err != nil && !missing {
			return nil, err
		}
		switch {
		case f.Remove && f.Content != nil && bytes.Equal(old, f.Content):
			// The stub of a removed file (Options.KeepRemoved).
		case f.Remove && !missing:
			diffs = append(diffs, unifiedDiff(f.Path, old, nil, false, true))
		case f.Remove:
		case missing:
			diffs = append(diffs, unifiedDiff(f.Path, nil, f.Content, true, false))
		case !bytes.Equal(old, f.Content):
			diffs = append(diffs, unifiedDiff(f.Path, old, f.Content, false, false))
		}
	}
	return diffs, nil
}

// unifiedDiff renders the change from old to new as a unified diff with
// minimal hunks (three lines of context), as git diff prints it after its
// "diff" line.
func unifiedDiff(path string, old, new []byte, created, removed bool) string {
	from, to := "a/"+path, "b/"+path
	if created {
		from = "/dev/null"
	}
	if removed {
		to = "/dev/null"
	}
	_, hunks, _ := strings.Cut(string(diff.Diff(from, old, to, new)), "\n")
	return hunks
}
