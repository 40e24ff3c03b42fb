package spend

import (
	"strings"
	"unicode/utf8"
)

// clean makes s storable as TEXT everywhere: PostgreSQL rejects invalid
// UTF-8 and NUL bytes, and one such record must not block a batch.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// isClean reports whether clean(s) is s.
func isClean(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }
