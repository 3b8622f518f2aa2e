package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sectionRef matches a reference to a section of a package documentation,
// written before or after the quoted title ("see the runtime package
// documentation, "Exec mode"" or ""Migrations and schema changes" in
// package runtime").
var sectionRef = regexp.MustCompile(`(?:doc\.go|package documentation|package runtime|runtime package)[^".]{0,80}?"([A-Z][A-Za-z ,-]+)"|"([A-Z][A-Za-z ,-]+)" (?:in|of) (?:package runtime|the runtime package|package annotations)`)

// TestDocSectionReferences requires every reference to a section of
// annotations/doc.go or runtime/doc.go, anywhere in the repository's
// documentation, comments and templates, to name a section that exists.
func TestDocSectionReferences(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	for _, doc := range []string{"annotations/doc.go", "runtime/doc.go"} {
		src, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			if title, ok := strings.CutPrefix(line, "// # "); ok {
				titles[title] = true
			}
		}
	}
	comment := regexp.MustCompile(`\s*\n\s*(?://|--)?\s*`)
	refs := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == filepath.Join("bench", "results") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".sql", ".tmpl":
		default:
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := comment.ReplaceAllString(string(src), " ")
		for _, m := range sectionRef.FindAllStringSubmatch(text, -1) {
			title := m[1] + m[2]
			refs++
			if !titles[title] {
				t.Errorf("%s refers to section %q, which neither annotations/doc.go nor runtime/doc.go has", rel, title)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refs == 0 {
		t.Fatal("found no section reference at all; the pattern is broken")
	}
	t.Logf("%d section references checked", refs)
}
