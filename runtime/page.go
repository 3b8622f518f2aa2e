package runtime

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Page selects one page of a listing ordered newest first by ID (IDs grow
// with time). It is a keyset cursor, not an offset, so deep pages cost the
// same as the first and rows inserted meanwhile never shift a page.
type Page struct {
	// Limit is the page size; 0 means DefaultPageLimit, and values above
	// MaxPageLimit are clamped to it.
	Limit int
	// After, when non-zero, selects rows with ID < After: pass the ID of the
	// last row of the previous page.
	After int64
}

// Page size bounds.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Size returns the effective page size, in [1, MaxPageLimit].
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// Cursor returns the keyset bound for "WHERE id < $n": After, or the
// largest int64 when After is zero (first page), so generated SQL needs
// no branch.
func (p Page) Cursor() int64 {
	if p.After == 0 {
		return 1<<63 - 1
	}
	return p.After
}

// Next returns the page after one whose last row has ID lastID.
func (p Page) Next(lastID int64) Page { return Page{Limit: p.Limit, After: lastID} }

// CollectPage reads the rows of one page of a listing with scan (a
// generated model's scan function) and closes them. The rows share one
// allocation of size elements, so a page costs two allocations whatever its
// size, and nothing is boxed: T is the model's struct type and scan is
// called with it directly. what names the rows in errors ("read
// blogdb.Post rows: ..."). Generated lists return its result as is.
func CollectPage[T any](rows pgx.Rows, size int, scan func(pgx.Row, *T) error, what string) ([]*T, error) {
	defer rows.Close()
	var slab []T
	var out []*T
	for rows.Next() {
		if slab == nil {
			slab = make([]T, 0, size)
			out = make([]*T, 0, size)
		}
		slab = append(slab, *new(T))
		row := &slab[len(slab)-1]
		if err := scan(rows, row); err != nil {
			return nil, fmt.Errorf("read %s rows: %w", what, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s rows: %w", what, err)
	}
	return out, nil
}
