package runtime

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
