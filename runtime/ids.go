package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Bit widths and epoch of the default ID layout (Instagram's): 41 bits of
// milliseconds since DefaultEpoch, 13 bits of logical shard (8,192 shards)
// and 10 bits of per-shard sequence (1,024 IDs per ms per shard).
const (
	DefaultTimeBits  = 41
	DefaultShardBits = 13
	DefaultSeqBits   = 10
)

// idBits is the width of an ID. As in Instagram's scheme the fields fill all
// 64 bits and the top bit of the time field is the sign bit of the int64; it
// stays zero for 2^(TimeBits-1) ms after the epoch (34.8 years for 41 bits,
// until 2058-11 with DefaultEpoch), so every ID minted in that range is a
// positive int64 (and a positive bigint). Compose refuses later times rather
// than minting negative IDs.
const idBits = 64

// DefaultEpoch is the custom epoch of DefaultLayout, 2024-01-01T00:00:00Z.
// It is a function rather than a variable so that no package-level state can
// be changed by a caller.
func DefaultEpoch() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }

// DefaultLayout returns the 41/13/10 layout with DefaultEpoch. Every ID minted
// by the per-shard ID function uses it unless the application chooses another
// layout when it installs the function.
func DefaultLayout() Layout {
	return Layout{TimeBits: DefaultTimeBits, ShardBits: DefaultShardBits, SeqBits: DefaultSeqBits, Epoch: DefaultEpoch()}
}

// Layout describes how a 64-bit ID is split, from the most significant bit:
// a zero sign bit, TimeBits of milliseconds since Epoch, ShardBits of logical
// shard (or worker, for Generator) and SeqBits of sequence. Any ID therefore
// tells the shard it lives on and roughly when it was minted, and IDs minted
// later sort higher.
type Layout struct {
	TimeBits  int
	ShardBits int
	SeqBits   int
	Epoch     time.Time
}

// Validate checks that the layout is usable: every field is at least one
// bit, the three fields fill exactly 64 bits (see idBits), the epoch is set
// and not in the future (a future epoch would make every current time
// negative), and the time field has not run out (now is less than MaxMillis
// after the epoch). Whether a group's shard count fits is CheckShards.
func (l Layout) Validate() error {
	if l.TimeBits < 1 || l.ShardBits < 1 || l.SeqBits < 1 {
		return fmt.Errorf("shardgen: ID layout %s: every field needs at least one bit", l)
	}
	if sum := l.TimeBits + l.ShardBits + l.SeqBits; sum != idBits {
		return fmt.Errorf("shardgen: ID layout %s: bits sum to %d, want %d so that IDs are positive int64 values", l, sum, idBits)
	}
	if l.Epoch.IsZero() {
		return fmt.Errorf("shardgen: ID layout %s: epoch is not set", l)
	}
	if l.Epoch.After(time.Now()) {
		return fmt.Errorf("shardgen: ID layout %s: epoch %s is in the future", l, l.Epoch.UTC().Format(time.RFC3339))
	}
	if now := time.Since(l.Epoch).Milliseconds(); now > l.MaxMillis() {
		return fmt.Errorf("shardgen: ID layout %s: the %d time bits ran out %s after the epoch; pick a later epoch", l, l.TimeBits, time.Duration(l.MaxMillis())*time.Millisecond)
	}
	return nil
}

// Equal reports whether l and o split IDs the same way from the same
// epoch (the instant, whatever its time zone).
func (l Layout) Equal(o Layout) bool {
	return l.TimeBits == o.TimeBits && l.ShardBits == o.ShardBits && l.SeqBits == o.SeqBits && l.Epoch.Equal(o.Epoch)
}

// CheckShards reports whether a group of n logical shards fits the layout:
// n must be positive and at most MaxShards, otherwise two shards would share
// the same shard bits and an ID could not tell them apart.
func (l Layout) CheckShards(n int) error {
	if n < 1 {
		return fmt.Errorf("shardgen: %d shards: need at least one", n)
	}
	if n > l.MaxShards() {
		return fmt.Errorf("shardgen: %d shards do not fit the %d shard bits of ID layout %s (at most %d)", n, l.ShardBits, l, l.MaxShards())
	}
	return nil
}

// String formats the layout as "time/shard/seq@epoch", e.g.
// "41/13/10@2024-01-01T00:00:00Z".
func (l Layout) String() string {
	return fmt.Sprintf("%d/%d/%d@%s", l.TimeBits, l.ShardBits, l.SeqBits, l.Epoch.UTC().Format(time.RFC3339))
}

// MaxShards is the number of distinct shard values the layout can hold.
func (l Layout) MaxShards() int { return 1 << l.ShardBits }

// MaxSeq is the largest sequence value, i.e. IDs per ms per shard minus one.
func (l Layout) MaxSeq() int64 { return 1<<l.SeqBits - 1 }

// MaxMillis is the largest number of milliseconds since the epoch the
// layout can hold while IDs stay positive: the top time bit is the sign bit.
func (l Layout) MaxMillis() int64 { return 1<<(l.TimeBits-1) - 1 }

// Millis returns the milliseconds since the epoch stored in id (an ID is
// positive, so the arithmetic shift never sees a sign bit).
func (l Layout) Millis(id int64) int64 { return id >> (l.ShardBits + l.SeqBits) }

// Time returns the time id was minted, to the millisecond, in UTC.
func (l Layout) Time(id int64) time.Time {
	return l.Epoch.Add(time.Duration(l.Millis(id)) * time.Millisecond).UTC()
}

// Shard returns the logical shard stored in id.
func (l Layout) Shard(id int64) Shard {
	return Shard((id >> l.SeqBits) & (1<<l.ShardBits - 1))
}

// Seq returns the sequence number stored in id.
func (l Layout) Seq(id int64) int64 { return id & l.MaxSeq() }

// ErrIDRange reports a value that does not fit its field of an ID layout.
var ErrIDRange = errors.New("value out of range for ID layout")

// ComposeMillis builds an ID from milliseconds since the epoch, a shard and a
// sequence number. Out-of-range parts are an error wrapping ErrIDRange rather
// than being silently truncated into another shard or time.
func (l Layout) ComposeMillis(ms int64, shard Shard, seq int64) (int64, error) {
	switch {
	case ms < 0 || ms > l.MaxMillis():
		return 0, fmt.Errorf("shardgen: ID time %d ms since epoch: %w %s (0..%d)", ms, ErrIDRange, l, l.MaxMillis())
	case shard < 0 || int(shard) >= l.MaxShards():
		return 0, fmt.Errorf("shardgen: ID shard %d: %w %s (0..%d)", shard, ErrIDRange, l, l.MaxShards()-1)
	case seq < 0 || seq > l.MaxSeq():
		return 0, fmt.Errorf("shardgen: ID sequence %d: %w %s (0..%d)", seq, ErrIDRange, l, l.MaxSeq())
	}
	return ms<<(l.ShardBits+l.SeqBits) | int64(shard)<<l.SeqBits | seq, nil
}

// Compose builds an ID from a time (truncated to the millisecond), a shard
// and a sequence number; see ComposeMillis.
func (l Layout) Compose(t time.Time, shard Shard, seq int64) (int64, error) {
	d := t.Sub(l.Epoch)
	if d < 0 {
		return 0, fmt.Errorf("shardgen: ID time %s is before the epoch: %w %s", t.UTC().Format(time.RFC3339Nano), ErrIDRange, l)
	}
	return l.ComposeMillis(d.Milliseconds(), shard, seq)
}

// ID is a 64-bit identifier whose text form is the decimal number (also in
// JSON, see MarshalText). The time, shard and sequence it carries depend on
// the layout it was minted with: decode them with the Spec's layout
// (Spec.IDLayout().Shard, Time, Seq), as Group.ShardOfID and the generated
// ID types do, never with an assumed one.
type ID int64

// String returns the decimal form of the ID.
func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// ParseID parses the decimal form of an ID. IDs are positive; zero,
// negative and non-numeric input is an error that quotes the input.
func ParseID(s string) (ID, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("shardgen: parse ID %q: not a decimal 64-bit integer", s)
	}
	if n <= 0 {
		return 0, fmt.Errorf("shardgen: parse ID %q: IDs are positive", s)
	}
	return ID(n), nil
}

// MarshalText encodes the ID as its decimal string. encoding/json therefore
// writes IDs as JSON strings, which JavaScript clients cannot round to the
// nearest float64 as they would a 64-bit number.
func (id ID) MarshalText() ([]byte, error) { return strconv.AppendInt(nil, int64(id), 10), nil }

// UnmarshalText decodes the decimal form produced by MarshalText.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
