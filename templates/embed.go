// Package templates holds the SQL templates shardgen renders: the table DDL
// the generator emits and the per-shard ID function the runtime installs.
// Only SQL lives here; the Go code that fills the templates is in gen/ddl
// and runtime/.
package templates

import "embed"

// FS holds every *.sql.tmpl file of this directory.
//
//go:embed *.sql.tmpl
var FS embed.FS
