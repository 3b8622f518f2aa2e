package emit

import "github.com/shardgen/shardgen/gen/model"

// TablesDDL renders the tables of models, the models of one database or
// shard group, exactly as the group's or database's migration creates them
// (shard tables name their schema runtime.SchemaToken). gen/query gives it
// to sqlc as the schema custom queries are checked against, so that sqlc
// sees the same tables and columns the application will.
func TablesDDL(models []*model.Model) (string, error) { return renderTables(models) }
