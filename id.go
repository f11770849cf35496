package berth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// idEncoding is lower-case Crockford-like base32: ids sort as their creation
// time does, which lets listings page by id alone.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new identifier with the given prefix ("job", "att", "sch",
// "node"). Identifiers made later sort after earlier ones (to the millisecond),
// and carry 80 random bits.
func NewID(prefix string, now time.Time) string {
	var b [15]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails.
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}
