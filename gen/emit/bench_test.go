package emit

import (
	"fmt"
	"testing"

	"github.com/shardgen/shardgen/gen/model"
)

// manyModels builds a package of n models spread over the default
// database, a partition and a shard group, like the generator benchmark of
// issue 6 (200 models).
func manyModels(n int) *model.Package {
	def := &model.Database{Name: model.DefaultDatabase}
	analytics := &model.Database{Name: "analytics"}
	blog := &model.Group{Name: "blog", Shards: 64, Key: typ(model.Int64, int64Ident)}
	p := &model.Package{Path: "example.com/app", Name: "app", Databases: []*model.Database{def, analytics}, Groups: []*model.Group{blog}}
	for i := range n {
		m := &model.Model{GoName: fmt.Sprintf("Model%d", i), Table: fmt.Sprintf("model%ds", i)}
		m.PK = field("ID", "id", typ(model.Int64, int64Ident))
		m.PK.PK = true
		owner := field("OwnerID", "owner_id", typ(model.Int64, int64Ident))
		name := field("Name", "name", typ(model.String, stringIdent))
		name.Index = true
		m.Fields = []*model.Field{m.PK, owner, name,
			field("CreatedAt", "created_at", typ(model.Time, model.GoIdent{ImportPath: "time", Name: "Time"})),
			field("Score", "score", typ(model.Float64, model.GoIdent{Name: "float64"}))}
		switch i % 3 {
		case 0:
			m.Placement, m.Database = model.OnDefault, def
			def.Models = append(def.Models, m)
		case 1:
			m.Placement, m.Database = model.OnPartition, analytics
			analytics.Models = append(analytics.Models, m)
		default:
			m.Placement, m.Group, m.ShardKey = model.InGroup, blog, owner
			blog.Models = append(blog.Models, m)
		}
		p.Models = append(p.Models, m)
	}
	return p
}

func BenchmarkPackage200Models(b *testing.B) {
	p := manyModels(200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Package(p); err != nil {
			b.Fatal(err)
		}
	}
}
