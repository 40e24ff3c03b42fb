// Package word tests 8 bytes of a string at once (SWAR): the scanners
// that escape or quote strings skip runs of plain bytes with it.
package word

// High has the high bit of every byte.
const High = 0x8080808080808080

const ones = 0x0101010101010101

// Load reads s[0:8] as a little-endian word (s must have 8 bytes).
func Load(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Less has the high bit set of the bytes of w below n (n ≤ 0x80), exactly
// up to the first such byte: masked with High it is zero iff there is none
// below n among the bytes < 0x80.
func Less(w uint64, n byte) uint64 { return (w - uint64(n)*ones) &^ w }

// Eq is Less for the bytes equal to c.
func Eq(w uint64, c byte) uint64 { return Less(w^uint64(c)*ones, 1) }
