package main

import (
	"slices"
	"strings"
	"testing"
)

// TestMoveModelFlag: shardgen move -model NAME finds the model's table and
// the database its directive now names, and refuses what the model mover
// does not do.
func TestMoveModelFlag(t *testing.T) {
	model, rest, ok := modelFlag([]string{"-config", "c.json", "-model", "PageView"})
	if !ok || model != "PageView" || !slices.Equal(rest, []string{"-config", "c.json"}) {
		t.Fatalf("modelFlag: %q %q %v", model, rest, ok)
	}
	if model, rest, ok := modelFlag([]string{"-model", "-status"}); !ok || model != "-" || !slices.Equal(rest, []string{"-status"}) {
		t.Fatalf("bare -model: %q %q %v", model, rest, ok)
	}
	if _, _, ok := modelFlag([]string{"-group", "blog"}); ok {
		t.Fatal("-model found where there is none")
	}
	pkg := "../../examples/blog/blogdb"
	table, db, key, err := modelPlace(pkg, "PageView")
	if err != nil || table != "page_views" || db != "analytics" || key != "" {
		t.Fatalf("PageView: %q %q %q %v", table, db, key, err)
	}
	if table, g, key, err := modelPlace(pkg, "Comment"); err != nil || table != "comments" || g != "blog" || key != "post_author_id" {
		t.Errorf("a sharded model: %q %q %q %v", table, g, key, err)
	}
	if _, _, _, err := modelPlace(pkg, "PageViews"); err == nil || !strings.Contains(err.Error(), "has no model PageViews (it has User, Post, Comment, PageView)") {
		t.Errorf("an unknown model: %v", err)
	}
}
