package llm

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tidwall/gjson"
)

// ScanObject validates body as one JSON value and, when it is an object,
// calls member with each top-level member in order (duplicates included):
// its key, unescaped, and its raw value with the value's offset in body.
// It reports whether body is valid JSON; member may have been called before
// a fault further on is found. key and val point into body, or are fresh;
// a known value's val is its kept copy (same bytes), which must not be
// written.
//
// With known values (and a body large enough to hold one), the members are
// validated one by one with ValidJSON, and the object's own punctuation
// here: the same verdict as ValidJSON(body), since a JSON object is exactly
// its members' keys and values joined by that punctuation. What this buys
// is known: a value byte-identical to one in known (Claude Code sends the
// same ~64 KB tools list with every request) is neither validated nor
// walked again, only compared. Without, the body is validated whole first.
func ScanObject(body []byte, known *KnownValues, member func(key string, val []byte, at int)) bool {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return ValidJSON(body)
	}
	// Where no value can be known, one call validates faster than one per
	// member; the walk then only finds the members.
	whole := known == nil || len(body) < known.minLen()
	if whole && !ValidJSON(body) {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipSpace(body, i+1) == len(body)
	}
	for {
		key, ke, vi, ok := memberKey(body, i)
		if !ok || (!whole && !validString(body[i:ke])) {
			return false
		}
		i = vi
		var val []byte // a known value is passed as its kept copy (see Holds)
		if !whole {
			val = known.match(key, body, i)
		}
		ve := i + len(val)
		if val == nil {
			if ve = valueEnd(body, i); ve < 0 || (!whole && !ValidJSON(body[i:ve])) {
				return false
			}
			val = body[i:ve]
			known.offer(key, val)
		}
		member(key, val, i)
		next, more, ok := afterMember(body, ve)
		if !ok || !more {
			return ok && skipSpace(body, next) == len(body)
		}
		i = next
	}
}

// memberKey reads the key of the object member whose opening quote is at
// b[i], and the colon after it: the key, unescaped; the offset after its
// closing quote (ke); and where the value starts (vi, space skipped). ok
// is false when b holds no key and colon there.
func memberKey(b []byte, i int) (key string, ke, vi int, ok bool) {
	if i == len(b) || b[i] != '"' {
		return "", 0, 0, false
	}
	if ke = stringEnd(b, i); ke < 0 {
		return "", 0, 0, false
	}
	key = unsafe.String(unsafe.SliceData(b[i+1:]), ke-1-(i+1))
	if bytes.IndexByte(b[i:ke], '\\') >= 0 {
		key = gjson.ParseBytes(b[i:ke]).Str
	}
	vi = skipSpace(b, ke)
	if vi == len(b) || b[vi] != ':' {
		return "", 0, 0, false
	}
	return key, ke, skipSpace(b, vi+1), true
}

// afterMember reads what follows an object member's value, which ends at
// b[i]: a comma (more is true; next is the next member's start) or the
// object's closing brace (next is just after it). ok is false for
// anything else.
func afterMember(b []byte, i int) (next int, more, ok bool) {
	i = skipSpace(b, i)
	if i == len(b) {
		return i, false, false
	}
	switch b[i] {
	case '}':
		return i + 1, false, true
	case ',':
		return skipSpace(b, i+1), true, true
	}
	return i, false, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd is the offset after the string that starts with the quote at
// b[i], or -1 if it does not end.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		n := 0 // backslashes before the quote
		for k := j - 1; k > i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// validString reports whether s (quotes included) is a valid JSON string:
// without a backslash, it is when no byte is a control character.
func validString(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return ValidJSON(s)
		}
	}
	return true
}

// valueEnd is the offset after the value that starts at b[i], if b holds a
// valid one there (the caller validates it), or -1.
func valueEnd(b []byte, i int) int {
	if i == len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
		j++
	}
	return j
}

// KnownValues holds large top-level values of request bodies seen before,
// byte for byte, for ScanObject: only those of keys whose values repeat
// from request to request (a client's tools and system prompt), only
// objects, arrays and strings (their last byte ends them), seen at least
// twice, at most knownPerSet of them, newest first. The zero value is
// ready; a nil one knows nothing.
type KnownValues struct {
	mu   sync.Mutex
	list atomic.Pointer[[]knownValue]
	min  int // the smallest value kept; 0 is knownMin (tests set less)
	// seen are the fingerprints of values offered once (under mu).
	seen     [16]uint64
	nextSeen int
}

func (k *KnownValues) minLen() int {
	if k.min > 0 {
		return k.min
	}
	return knownMin
}

type knownValue struct {
	key string
	raw []byte
}

const (
	knownMin    = 2 << 10
	knownMax    = 512 << 10
	knownPerSet = 8
	knownTail   = 64 // bytes compared first: where two lists of tools differ, most often
)

// knownKeys are the keys whose values are kept.
var knownKeys = map[string]bool{"tools": true, "system": true, "functions": true}

// match returns the kept copy of the known value of key that body holds
// at i, or nil.
func (k *KnownValues) match(key string, body []byte, i int) []byte {
	if k == nil || i == len(body) || (body[i] != '[' && body[i] != '{' && body[i] != '"') {
		return nil
	}
	l := k.list.Load()
	if l == nil {
		return nil
	}
	rest := body[i:]
	for _, v := range *l {
		n := len(v.raw)
		if v.key != key || n > len(rest) {
			continue
		}
		t := max(0, n-knownTail)
		if bytes.Equal(rest[t:n], v.raw[t:]) && bytes.Equal(rest[:t], v.raw[:t]) {
			return v.raw[:n:n]
		}
	}
	return nil
}

// Holds reports whether raw is the kept copy of a known value, as
// ScanObject passes it: memory nothing writes, so that while raw is
// referenced, its address and length name its bytes (a cache may key on
// them instead of hashing them).
func (k *KnownValues) Holds(raw []byte) bool {
	if k == nil || len(raw) < k.minLen() {
		return false
	}
	if l := k.list.Load(); l != nil {
		for _, v := range *l {
			if unsafe.SliceData(v.raw) == unsafe.SliceData(raw) && len(v.raw) == len(raw) {
				return true
			}
		}
	}
	return false
}

// offer keeps a copy of raw, the valid value of key, if it is worth it:
// the second time it is offered (a value no second request repeats is not
// copied), as far as a fingerprint of its length and ends can tell.
func (k *KnownValues) offer(key string, raw []byte) {
	if k == nil || len(raw) < k.minLen() || len(raw) > knownMax || (raw[0] != '[' && raw[0] != '{' && raw[0] != '"') || !knownKeys[key] {
		return
	}
	fp := fingerprint(key, raw)
	k.mu.Lock()
	defer k.mu.Unlock()
	if !slices.Contains(k.seen[:], fp) {
		k.seen[k.nextSeen] = fp
		k.nextSeen = (k.nextSeen + 1) % len(k.seen)
		return
	}
	next := make([]knownValue, 0, knownPerSet)
	next = append(next, knownValue{key: strings.Clone(key), raw: bytes.Clone(raw)})
	if old := k.list.Load(); old != nil {
		for _, v := range *old {
			if len(next) == knownPerSet {
				break
			}
			if v.key != key || !bytes.Equal(v.raw, raw) {
				next = append(next, v)
			}
		}
	}
	k.list.Store(&next)
}

var fingerprintSeed = maphash.MakeSeed()

// fingerprint hashes key, raw's length and raw's first and last knownTail
// bytes.
func fingerprint(key string, raw []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	h.WriteString(key)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(raw)))
	h.Write(n[:])
	h.Write(raw[:min(len(raw), knownTail)])
	h.Write(raw[max(0, len(raw)-knownTail):])
	return h.Sum64()
}

// Members calls fn with each member of the JSON object at the start of b
// (leading space allowed), in order, until fn returns false: its key,
// unescaped, and its raw value. It reports whether b starts with an
// object whose punctuation it could follow to the end or to where fn
// stopped; unlike ScanObject it does not validate the values, and bytes
// after the object are not looked at. For reading a few fields out of a
// small object (a usage) without a parser's allocations and branches.
func Members(b []byte, fn func(key string, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		key, _, vi, ok := memberKey(b, i)
		if !ok {
			return false
		}
		ve := valueEnd(b, vi)
		if ve < 0 || ve == vi {
			return false
		}
		if !fn(key, b[vi:ve]) {
			return true
		}
		next, more, ok := afterMember(b, ve)
		if !ok || !more {
			return ok
		}
		i = next
	}
}

// IntValue is a raw JSON value as an integer, as gjson's Result.Int reads
// it (a number, or a string holding one, truncated toward zero; true is 1;
// anything else 0): a plain integer of up to 15 digits directly, the rest
// through gjson.
func IntValue(v []byte) int64 {
	s, neg := v, false
	if len(s) > 0 && s[0] == '-' {
		s, neg = s[1:], true
	}
	if len(s) == 0 || len(s) > 15 {
		return gjson.ParseBytes(v).Int()
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return gjson.ParseBytes(v).Int()
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

// LastKeyValue is the offset of the value of the last member named key in
// b, at any depth, or -1: the last `"key"` followed by optional space and
// a colon, whose opening quote is not escaped. Inside a JSON string every
// quote is escaped, so in valid JSON only a key matches. key must not
// need escaping; a key written with escapes is not found.
func LastKeyValue(b []byte, key string) int {
	k := unsafe.Slice(unsafe.StringData(key), len(key))
	last := -1
	for from := 0; ; {
		p := bytes.Index(b[from:], k) // on key's first byte: rarer than a quote
		if p < 0 {
			return last
		}
		p += from
		from = p + len(key)
		if p < 1 || b[p-1] != '"' || from == len(b) || b[from] != '"' || (p > 1 && b[p-2] == '\\') {
			continue
		}
		if c := skipSpace(b, from+1); c < len(b) && b[c] == ':' {
			last = skipSpace(b, c+1)
		}
	}
}
