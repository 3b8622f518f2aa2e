package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The breaker of a server's pool. Once a connection to the server cannot be
// made (refused, reset, no answer within AcquireTimeout, rejected
// credentials), the breaker opens: for PoolConfig.ProbeInterval every call
// fails at once with the same error, without a dial, so writers retrying a
// down server without back-off cost the process almost nothing and leave
// the healthy servers their rate. After the interval one call, the probe,
// dials again while the others keep failing fast; the probe's success
// closes the breaker, its failure opens it for another interval. A server
// that comes back is thus served again at most ProbeInterval after it
// accepts connections. Statement errors on an established connection do
// not open the breaker (one terminated backend is not a down server).

// downState is an open breaker.
type downState struct {
	until int64 // UnixNano before which no call dials
	cause error // the classified error that opened it
	fast  error // what fast-failed calls return
}

// gate is called while the breaker is open. It returns an error to fail the
// call fast, or probing=true when this call is the one that dials.
func (sp *serverPool) gate(d *downState) (probing bool, err error) {
	now := time.Now().UnixNano()
	if now < d.until {
		return false, sp.failFast(d)
	}
	// Hold the others off for as long as the probe may take.
	next := &downState{until: now + int64(sp.connectTimeout+sp.probeInterval), cause: d.cause, fast: d.fast}
	if sp.down.CompareAndSwap(d, next) {
		return true, nil
	}
	return false, sp.failFast(d)
}

// failFastPause is how long a call to a server known down takes: no dial,
// but not instant either, so that writers retrying in a loop without
// back-off sleep instead of spinning the CPUs the healthy servers' calls
// need (with instant failures, 8 such writers cut a healthy server's rate
// on 2 CPUs to about 2%; with the pause it keeps about 99%, see
// BenchmarkRetryStorm).
const failFastPause = time.Millisecond

func (sp *serverPool) failFast(d *downState) error {
	sp.fastFails.Add(1)
	time.Sleep(failFastPause)
	return d.fast
}

// trip opens the breaker with e, a *causeError of kind ErrUnavailable or
// ErrMisconfigured.
func (sp *serverPool) trip(e *causeError) {
	sp.trips.Add(1)
	if sp.noBreaker {
		return
	}
	fast := &causeError{kind: e.kind, cause: fmt.Errorf("not dialled for %s after: %w", sp.probeInterval, e.cause), secret: sp.secret}
	sp.down.Store(&downState{until: time.Now().Add(sp.probeInterval).UnixNano(), cause: e, fast: fast})
}

// rejected reports whether a connection error is the server (or TLS)
// refusing our configuration: a wrong password (28P01), no such role or
// authorization failed (28000), no such database (3D000), or TLS that cannot
// be negotiated or verified. Retrying does not help; ErrMisconfigured.
func rejected(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000", "3D000":
			return true
		}
		return false
	}
	var (
		rh   tls.RecordHeaderError
		cv   *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
		ci   x509.CertificateInvalidError
		alrt tls.AlertError
	)
	if errors.As(err, &rh) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &alrt) {
		return true
	}
	// pgconn reports sslmode=require against a server without TLS with a
	// plain error.
	return strings.Contains(err.Error(), "server refused TLS connection")
}
