package runtime

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// serverGoingAway reports whether a SQLSTATE means the server or the
// connection is gone: class 08 (connection exception) and 57P01-57P03
// (admin/crash shutdown, cannot connect now). 08P01 (protocol violation) is
// in class 08 but is the caller's bug, such as a wrong parameter count, not
// an outage, so it is not reported as ErrUnavailable.
func serverGoingAway(code string) bool {
	if code == "08P01" {
		return false
	}
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
}

// classify turns an error from a statement on conn into the error stored in
// a ShardError: connection-level failures become ErrUnavailable, a missing
// table or schema ErrNotMigrated, a serialization failure or deadlock
// ErrSerialization.
func (sp *serverPool) classify(ctx context.Context, conn *pgx.Conn, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if serverGoingAway(pgErr.Code) {
			return &causeError{kind: ErrUnavailable, cause: err, secret: sp.secret}
		}
		if pgErr.Code == "42P01" || pgErr.Code == "3F000" { // undefined_table, invalid_schema_name
			return &causeError{kind: ErrNotMigrated, cause: err, secret: sp.secret}
		}
		if pgErr.Code == "40001" || pgErr.Code == "40P01" { // serialization_failure, deadlock_detected
			return &causeError{kind: ErrSerialization, cause: err, secret: sp.secret}
		}
		return err
	}
	if ctx != nil && ctx.Err() != nil {
		return err
	}
	if conn != nil && conn.IsClosed() {
		return &causeError{kind: ErrUnavailable, cause: err, secret: sp.secret}
	}
	if sp.secret != "" && strings.Contains(err.Error(), sp.secret) {
		return &causeError{cause: err, secret: sp.secret}
	}
	return err
}

// causeError joins a sentinel kind (may be nil) with the driver's error and
// scrubs the password from its text.
type causeError struct {
	kind   error
	cause  error
	secret string
}

func (e *causeError) Error() string {
	msg := scrub(e.cause.Error(), e.secret)
	if e.kind == nil {
		return msg
	}
	return e.kind.Error() + ": " + msg
}

func (e *causeError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "xxxxx")
}
