package ddl

import (
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// ordersPackage is a shard group "shop" with one model whose non-key
// fields are given as column names (all strings).
func ordersPackage(cols ...string) *model.Package {
	str := &model.Type{Kind: model.String, Ident: model.GoIdent{Name: "string"}}
	i64 := &model.Type{Kind: model.Int64, Ident: model.GoIdent{Name: "int64"}}
	shop := &model.Group{Name: "shop", Shards: 4, Key: i64}
	m := &model.Model{GoName: "Order", Table: "orders", Placement: model.InGroup, Group: shop}
	m.PK = &model.Field{GoName: "ID", Column: "id", Type: i64, PK: true}
	m.ShardKey = &model.Field{GoName: "CustomerID", Column: "customer_id", Type: i64}
	m.Fields = []*model.Field{m.PK, m.ShardKey}
	for _, c := range cols {
		m.Fields = append(m.Fields, &model.Field{GoName: strings.ToUpper(c[:1]) + c[1:], Column: c, Type: str})
	}
	p := &model.Package{Path: "example.com/shop", Name: "shop", Groups: []*model.Group{shop}, Models: []*model.Model{m}}
	shop.Models = p.Models
	return p
}

func schemaFile(t *testing.T, p *model.Package) []byte {
	t.Helper()
	targets, err := Targets(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := SchemaFile(p, targets)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEvolveKeepsOrphansAcrossRuns: a removed column warns once, and
// generating again from the file that recorded it keeps the orphan (and so
// its default) without warning again, until a field maps to it again.
func TestEvolveKeepsOrphansAcrossRuns(t *testing.T) {
	v1 := schemaFile(t, ordersPackage("note", "legacy"))

	v2 := ordersPackage("note")
	var d1 diag.List
	Evolve(v2, v1, &d1)
	if got := v2.Models[0].Orphans; len(got) != 1 || got[0] != (model.Orphan{Column: "legacy", Type: "text", NotNull: true, Zero: "''"}) {
		t.Fatalf("orphans %+v", got)
	}
	if len(d1.Items()) != 1 || !strings.Contains(d1.Items()[0].Msg, `column "legacy" of table orders`) {
		t.Errorf("warnings %v", d1.Items())
	}
	file2 := schemaFile(t, v2)
	if !strings.Contains(string(file2), `ALTER TABLE @schema@."orders" ALTER COLUMN "legacy" SET DEFAULT '';`) {
		t.Errorf("v2 DDL does not relax legacy:\n%s", file2)
	}

	again := ordersPackage("note")
	var d2 diag.List
	Evolve(again, file2, &d2)
	if len(d2.Items()) != 0 || len(again.Models[0].Orphans) != 1 {
		t.Errorf("second run: warnings %v, orphans %+v", d2.Items(), again.Models[0].Orphans)
	}
	if file3 := schemaFile(t, again); string(file3) != string(file2) {
		t.Errorf("generating again changed the schema file")
	}

	back := ordersPackage("note", "legacy")
	var d3 diag.List
	Evolve(back, file2, &d3)
	if len(back.Models[0].Orphans) != 0 || len(d3.Items()) != 0 {
		t.Errorf("field back: orphans %+v, warnings %v", back.Models[0].Orphans, d3.Items())
	}
}
