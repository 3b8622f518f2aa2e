package model

import (
	"strings"
	"testing"
)

func TestGoExported(t *testing.T) {
	for in, want := range map[string]string{
		"blog":      "Blog",
		"default":   "Default",
		"user_data": "UserData",
		"api_logs":  "APILogs",
		"http_log":  "HTTPLog",
		"a__b":      "AB",
		"2024_logs": "X2024Logs",
	} {
		if got := GoExported(in); got != want {
			t.Errorf("GoExported(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoPlural(t *testing.T) {
	for in, want := range map[string]string{
		"Post":     "Posts",
		"Category": "Categories",
		"Address":  "Addresses",
		"PageView": "PageViews",
		"Box":      "Boxes",
		"Day":      "Days",
		"Match":    "Matches",
		"Wish":     "Wishes",
		"Quiz":     "Quizes",
		"URL":      "URLs",
	} {
		if got := GoPlural(in); got != want {
			t.Errorf("GoPlural(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestModelNames(t *testing.T) {
	m := &Model{GoName: "post", Table: "posts"}
	got := []string{m.ExportedName(), m.IDType(), m.RepoName(), m.TxRepoName(), m.DBField(), m.FileName()}
	want := []string{"Post", "PostID", "PostRepo", "PostTxRepo", "Posts", "shardgen_posts.go"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("model names = %v, want %v", got, want)
	}
	g := &Group{Name: "user_data"}
	if got := g.KeyType() + " " + g.TxType() + " " + g.InShardFunc(); got != "UserDataKey UserDataTx InUserDataShard" {
		t.Errorf("group names = %q", got)
	}
	d := &Database{Name: "analytics"}
	if got := d.TxType() + " " + d.InTxFunc(); got != "AnalyticsTx InAnalyticsTx" {
		t.Errorf("database names = %q", got)
	}
}

func TestFileNameAvoidsBuildConstraints(t *testing.T) {
	for table, want := range map[string]string{
		"posts":       "shardgen_posts.go",
		"windows":     "shardgen_windows_model.go",
		"test":        "shardgen_test_model.go",
		"linux_amd64": "shardgen_linux_amd64_model.go",
		"arm":         "shardgen_arm_model.go",
		"armies":      "shardgen_armies.go",
	} {
		m := &Model{GoName: "X", Table: table}
		if got := m.FileName(); got != want {
			t.Errorf("table %q: FileName() = %q, want %q", table, got, want)
		}
	}
}

func TestFileNamesUnique(t *testing.T) {
	a := &Model{GoName: "Event", Table: "events"}
	b := &Model{GoName: "AuditEvent", Table: "events"}
	c := &Model{GoName: "Post", Table: "posts"}
	names := (&Package{Models: []*Model{a, b, c}}).FileNames()
	if names[a] != "shardgen_events_event.go" || names[b] != "shardgen_events_auditevent.go" || names[c] != "shardgen_posts.go" {
		t.Errorf("FileNames = %v", names)
	}
}

func TestRelationAccessorName(t *testing.T) {
	for field, want := range map[string]string{
		"PostID":   "ListByPost",
		"ParentId": "ListByParent",
		"Author":   "ListByAuthor",
		"ID":       "ListByID",
	} {
		r := &Relation{Field: &Field{GoName: field}}
		if got := r.AccessorName(); got != want {
			t.Errorf("AccessorName(%s) = %q, want %q", field, got, want)
		}
	}
}

func TestCheckGeneratedNames(t *testing.T) {
	def := &Database{Name: DefaultDatabase}
	ok := &Package{
		Databases: []*Database{def},
		Groups:    []*Group{{Name: "blog"}},
		Models:    []*Model{{GoName: "Post"}, {GoName: "Comment"}},
	}
	def.Models = ok.Models
	if err := ok.CheckGeneratedNames(); err != nil {
		t.Errorf("unexpected clash: %v", err)
	}
	for _, tc := range []struct {
		models []*Model
		groups []*Group
		want   string
	}{
		{models: []*Model{{GoName: "Post"}, {GoName: "post"}}, want: "PostID of model post clashes with model Post"},
		{models: []*Model{{GoName: "Box"}, {GoName: "Boxe"}}, want: "DB member Boxes of model Boxe clashes with model Box"},
		{groups: []*Group{{Name: "blog"}, {Name: "Blog"}}, want: "BlogKey of group Blog clashes with group blog"},
		{models: []*Model{{GoName: "Blog"}}, groups: []*Group{{Name: "blog_id"}}, want: "clashes"},
	} {
		p := &Package{Models: tc.models, Groups: tc.groups}
		err := p.CheckGeneratedNames()
		if tc.want == "clashes" {
			// "blog_id" -> BlogIDKey, no clash with BlogID: make sure we do not over-report.
			if err != nil {
				t.Errorf("unexpected clash: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckGeneratedNames() = %v, want error containing %q", err, tc.want)
		}
	}
	m := &Model{GoName: "Comment"}
	m.Relations = []*Relation{{From: m, Field: &Field{GoName: "PostID"}}, {From: m, Field: &Field{GoName: "Post"}}}
	if err := (&Package{Models: []*Model{m}}).CheckGeneratedNames(); err == nil || !strings.Contains(err.Error(), "CommentRepo.ListByPost of field Post clashes with the one of field PostID") {
		t.Errorf("accessor clash: %v", err)
	}
	if got := ok.GeneratedIdents(); strings.Join(got, ",") != "BlogKey,BlogTx,CommentID,CommentRepo,CommentTxRepo,DB,DefaultTx,New,PostID,PostRepo,PostTxRepo,Spec,shardgenJSON,shardgenUUID" {
		t.Errorf("GeneratedIdents = %v", got)
	}
}
