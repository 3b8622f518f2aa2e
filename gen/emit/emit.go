// Package emit turns a validated model.Package into the generated Go files
// and SQL DDL of one annotated package. It is pure: it returns files as data
// and never writes to disk.
package emit

import (
	"errors"

	"github.com/shardgen/shardgen/gen/model"
)

// File is one generated file.
type File struct {
	// Name is the base file name, written into the package directory.
	Name string
	// Content is the gofmt'ed file content.
	Content []byte
}

// Package renders every generated file of p, sorted by Name.
func Package(p *model.Package) ([]File, error) {
	return nil, errors.New("emit: not implemented yet")
}
