package spend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/word"
)

// A batch is how the SQLite store keeps records: one spend_batches row
// per inserted batch, with three encodings of its records.
//
// dict is a JSON array of the batch's repeated strings (names, routes,
// models, ...); dict[0] is "".
//
// data is a JSON array with one array per record, in this order (d: an
// index into dict; times in µs since the Unix epoch, durations in ns):
//
//	0 id  1 start  2 end  3 key_hash(d)  4 key_alias(d)  5 user(d)  6 team(d)
//	7 end_user(d)  8 route(d)  9 client_dialect(d)  10 model_requested(d)
//	11 model_group(d)  12 deployment_id(d)  13 provider(d)  14 upstream_model(d)
//	15 api_base(d)  16 stream(0/1)  17 input  18 output  19 cache_read
//	20 cache_write  21 reasoning  22 usage_estimated(0/1)  23 cost  24 latency
//	25 ttft  26 upstream_latency  27 status(d)  28 http_status  29 error_kind(d)
//	30 error_message  31 cache_hit(0/1)  32 retries  33 fallbacks  34 tags
//	35 prompt  36 response
//
// so that SQL can read it (the spend_logs view does), at a fifth of a
// journal line's size: the bytes SQLite writes are most of an insert's
// cost.
//
// cols is a compact binary summary of each record, for filters, reports
// and stats without parsing JSON:
//
//	cols = version(2) uvarint(#records) {record}…
//	record = varint(start µs − previous start µs)
//	         uvarint(key) uvarint(user) uvarint(team) uvarint(model) uvarint(deployment)
//	         byte(flags: 1 = success) varint(latency ns)
//	         varint(input) varint(output) varint(cache read) varint(cache write) varint(total)
//	         8 bytes little-endian float64(cost)
//
// with the five names as indexes into dict.

const colsVersion = 2

// dataFields is the length of a record's array in data; nameFields of
// them index dict.
const (
	dataFields = 37
	nameFields = 15
)

// colRec is one record's summary.
type colRec struct {
	start                       int64 // µs since the Unix epoch
	key, user, team, model, dep uint32
	success                     bool
	latency                     int64 // ns
	in, out, cacheRead, cacheW  int64
	total                       int64
	cost                        float64
}

// keyKinds are the filterable names, in spend_batch_keys.kind order.
const (
	kindKey = iota + 1
	kindUser
	kindTeam
	kindModel
)

// batchEncoder builds the dict, data and cols of one batch row.
type batchEncoder struct {
	index map[string]uint32
	strs  []string
	last  [nameFields]string // each name field's previous value: most repeat
	lastI [nameFields]uint32
	recs  []byte // cols records
	n     int
	prev  int64
	minSt int64
	maxSt int64
	data  []byte
	keys  map[[2]uint32]struct{} // (kind, dict index) of non-empty names
	// lastKey are the dict indexes put in keys for the previous record,
	// per kind: most records repeat them, and need no map insert.
	lastKey [4]uint32
}

func (e *batchEncoder) reset() {
	if e.index == nil {
		e.index = make(map[string]uint32)
		e.keys = make(map[[2]uint32]struct{})
	}
	clear(e.index)
	clear(e.keys)
	e.lastKey = [4]uint32{}
	e.strs = append(e.strs[:0], "")
	e.index[""] = 0
	e.last, e.lastI = [nameFields]string{}, [nameFields]uint32{}
	e.recs = e.recs[:0]
	e.n, e.prev = 0, 0
	e.minSt, e.maxSt = math.MaxInt64, math.MinInt64
	e.data = append(e.data[:0], '[')
}

func (e *batchEncoder) intern(s string) uint32 {
	if s == "" {
		return 0
	}
	i, ok := e.index[s]
	if !ok {
		c := storedString(s)
		if i, ok = e.index[c]; !ok {
			i = uint32(len(e.strs))
			e.strs = append(e.strs, c)
			e.index[c] = i
		}
		e.index[s] = i
	}
	return i
}

// add appends a record. Its cost must be finite (JSON has no NaN).
func (e *batchEncoder) add(r *record.Record) {
	start := r.StartTime.UnixMicro()
	e.minSt, e.maxSt = min(e.minSt, start), max(e.maxSt, start)
	u := r.Usage
	// The name fields, at data indexes 3…15, 27 and 29.
	names := recordNames(r)
	var d [nameFields]uint32
	for i, s := range names {
		switch {
		case s == "":
		case s == e.last[i]:
			d[i] = e.lastI[i]
		default:
			d[i] = e.intern(s)
			e.last[i], e.lastI[i] = s, d[i]
		}
	}
	b := e.data
	if e.n > 0 {
		b = append(b, ',')
	}
	b = append(b, '[')
	e.data = append(appendFields(b, r, names[:], &d), ']')

	flags := byte(0)
	if r.Status == record.StatusSuccess {
		flags = 1
	}
	e.putCol(start, [5]uint32{d[0], d[2], d[3], d[8], d[9]}, flags, int64(r.Latency),
		[5]int64{int64(u.InputTokens), int64(u.OutputTokens), int64(u.CacheReadTokens), int64(u.CacheWriteTokens), int64(u.Total())},
		r.Cost)
}

// appendFields appends the 37 fields of r's array (see above), with the
// name fields as their indexes d into a dict, or, when d is nil, as the
// strings names themselves (a journal line).
func appendFields(b []byte, r *record.Record, names []string, d *[nameFields]uint32) []byte {
	u := r.Usage
	name := func(b []byte, i int) []byte {
		b = append(b, ',')
		if d != nil {
			if v := d[i]; v < 10 {
				return append(b, byte('0'+v))
			}
			return strconv.AppendUint(b, uint64(d[i]), 10)
		}
		return appendJSONString(b, names[i])
	}
	b = appendJSONString(b, r.ID)
	b = appendInts(b, r.StartTime.UnixMicro(), r.EndTime.UnixMicro())
	for i := range 13 {
		b = name(b, i)
	}
	b = appendInts(b, b2i(r.Stream), int64(u.InputTokens), int64(u.OutputTokens), int64(u.CacheReadTokens),
		int64(u.CacheWriteTokens), int64(u.ReasoningTokens), b2i(r.UsageEstimated || u.Estimated))
	b = append(b, ',')
	b = strconv.AppendFloat(b, r.Cost, 'g', -1, 64)
	b = appendInts(b, int64(r.Latency), int64(r.TTFT), int64(r.UpstreamLatency))
	b = name(b, 13)
	b = appendInts(b, int64(r.HTTPStatus))
	b = name(b, 14)
	b = append(b, ',')
	b = appendJSONString(b, r.ErrorMessage)
	b = appendInts(b, b2i(r.CacheHit), int64(r.Retries), int64(r.Fallbacks))
	b = append(b, ",["...)
	for i, t := range r.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	b = append(b, "],"...)
	b = appendJSONString(b, r.Prompt)
	b = append(b, ',')
	return appendJSONString(b, r.Response)
}

// recordNames are r's name fields, in appendFields' order.
func recordNames(r *record.Record) [nameFields]string {
	return [nameFields]string{r.KeyHash, r.KeyAlias, r.User, r.Team, r.EndUser, r.Route,
		string(r.ClientDialect), r.ModelRequested, r.ModelGroup, r.DeploymentID, r.Provider,
		r.UpstreamModel, r.APIBase, string(r.Status), r.ErrorKind}
}

func (e *batchEncoder) putCol(start int64, names [5]uint32, flags byte, latency int64, nums [5]int64, cost float64) {
	b := binary.AppendVarint(e.recs, start-e.prev)
	e.prev = start
	for slot, i := range names {
		if slot < 4 && i != 0 && i != e.lastKey[slot] {
			e.keys[[2]uint32{uint32(slot + kindKey), i}] = struct{}{}
			e.lastKey[slot] = i
		}
		b = binary.AppendUvarint(b, uint64(i))
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, latency)
	for _, v := range nums {
		b = binary.AppendVarint(b, v)
	}
	e.recs = binary.LittleEndian.AppendUint64(b, math.Float64bits(cost))
	e.n++
}

func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

func appendInts(b []byte, vs ...int64) []byte {
	for _, v := range vs {
		if v >= 0 && v < 10 {
			b = append(b, ',', byte('0'+v))
			continue
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, v, 10)
	}
	return b
}

// cols returns the encoded summary.
func (e *batchEncoder) cols() []byte {
	out := make([]byte, 0, len(e.recs)+8)
	out = append(out, colsVersion)
	out = binary.AppendUvarint(out, uint64(e.n))
	return append(out, e.recs...)
}

// dict returns the string table as a JSON array.
func (e *batchEncoder) dict() []byte {
	b := []byte{'['}
	for i, s := range e.strs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func (e *batchEncoder) dataBytes() []byte { return append(e.data, ']') }

// appendJSONString appends s, as storedString makes it, as a JSON string,
// in one pass.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case 0: // dropped, as storedString does
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// plain8 reports whether the 8 bytes of s (len 8) are all ASCII that a JSON
// string holds as it is: no control character, '"', '\\' or byte ≥ 0x80.
// One word at a time, as most names and ids are.
func plain8(s string) bool {
	w := word.Load(s)
	return (word.Less(w, 0x20)|word.Eq(w, '"')|word.Eq(w, '\\')|w)&word.High == 0
}

var errBadBatch = errors.New("spend: malformed batch")

// decodeCols parses a cols blob whose names index a dict of nDict strings.
func decodeCols(b []byte, nDict int) ([]colRec, error) {
	if len(b) == 0 || b[0] != colsVersion {
		return nil, fmt.Errorf("%w: summary version", errBadBatch)
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	nextInt := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	nr, ok := next()
	// A record takes at least 21 bytes.
	if !ok || nr > uint64(len(b))/21 {
		return nil, fmt.Errorf("%w: record count", errBadBatch)
	}
	recs := make([]colRec, nr)
	var start int64
	for i := range recs {
		r := &recs[i]
		d, ok := nextInt()
		if !ok {
			return nil, fmt.Errorf("%w: record %d start", errBadBatch, i)
		}
		start += d
		r.start = start
		var names [5]uint32
		for k := range names {
			v, ok := next()
			if !ok || v >= uint64(nDict) {
				return nil, fmt.Errorf("%w: record %d name", errBadBatch, i)
			}
			names[k] = uint32(v)
		}
		r.key, r.user, r.team, r.model, r.dep = names[0], names[1], names[2], names[3], names[4]
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: record %d flags", errBadBatch, i)
		}
		r.success = b[0]&1 != 0
		b = b[1:]
		var nums [6]int64
		for k := range nums {
			v, ok := nextInt()
			if !ok {
				return nil, fmt.Errorf("%w: record %d numbers", errBadBatch, i)
			}
			nums[k] = v
		}
		r.latency, r.in, r.out, r.cacheRead, r.cacheW, r.total = nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: record %d cost", errBadBatch, i)
		}
		r.cost = math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing summary bytes", errBadBatch, len(b))
	}
	return recs, nil
}

// decodeDict parses a dict column.
func decodeDict(b []byte) ([]string, error) {
	p := jsonParser{b: b}
	var out []string
	err := p.array(func() error {
		s, err := p.str()
		out = append(out, s)
		return err
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: dict: %w", errBadBatch, err)
	}
	if len(out) == 0 || out[0] != "" {
		return nil, fmt.Errorf("%w: dict[0] is not empty", errBadBatch)
	}
	return out, nil
}

// decodeData calls fn with each record of a data column, decoded, for
// the indexes want reports true for.
func decodeData(b []byte, dict []string, want func(i int) bool, fn func(i int, r *record.Record)) error {
	p := jsonParser{b: b}
	i := 0
	err := p.array(func() error {
		if !want(i) {
			i++
			return p.skip()
		}
		r, err := p.record(dict)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		fn(i, r)
		i++
		return nil
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return fmt.Errorf("%w: data: %w", errBadBatch, err)
	}
	return nil
}

// jsonParser reads the JSON of dict and data columns: arrays, strings,
// numbers.
type jsonParser struct {
	b []byte
	i int
}

var errSyntax = errors.New("syntax error")

func (p *jsonParser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) end() error {
	if p.peek() != 0 || p.i != len(p.b) {
		return fmt.Errorf("%w at %d: trailing bytes", errSyntax, p.i)
	}
	return nil
}

// array calls item for each element of an array.
func (p *jsonParser) array(item func() error) error {
	if p.peek() != '[' {
		return fmt.Errorf("%w at %d: want [", errSyntax, p.i)
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return fmt.Errorf("%w at %d: want , or ]", errSyntax, p.i)
		}
	}
}

// skip passes over one value: a string, a number or an array of them.
func (p *jsonParser) skip() error {
	switch c := p.peek(); {
	case c == '"':
		_, err := p.str()
		return err
	case c == '[':
		return p.array(p.skip)
	default:
		_, err := p.num()
		return err
	}
}

func (p *jsonParser) num() (string, error) {
	p.ws()
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		p.i++
	}
	if p.i == start {
		return "", fmt.Errorf("%w at %d: want a value", errSyntax, p.i)
	}
	return string(p.b[start:p.i]), nil
}

func (p *jsonParser) int() (int64, error) {
	s, err := p.num()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w at %d: %w", errSyntax, p.i, err)
	}
	return v, nil
}

func (p *jsonParser) float() (float64, error) {
	s, err := p.num()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w at %d: %w", errSyntax, p.i, err)
	}
	return v, nil
}

// str reads a JSON string.
func (p *jsonParser) str() (string, error) {
	if p.peek() != '"' {
		return "", fmt.Errorf("%w at %d: want a string", errSyntax, p.i)
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", fmt.Errorf("%w at %d: control character in a string", errSyntax, p.i)
		}
		p.i++
	}
	return "", fmt.Errorf("%w: unterminated string", errSyntax)
}

// strSlow reads the rest of a string with escapes, from start.
func (p *jsonParser) strSlow(start int) (string, error) {
	var sb strings.Builder
	sb.Write(p.b[start:p.i])
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String(), nil
		case c < 0x20:
			return "", fmt.Errorf("%w at %d: control character in a string", errSyntax, p.i)
		case c != '\\':
			sb.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", fmt.Errorf("%w at %d: bad \\u escape", errSyntax, p.i)
			}
			if utf8.RuneLen(r) < 0 { // a surrogate
				r2 := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok && lo >= 0xdc00 && lo < 0xe000 && r < 0xdc00 {
						r2 = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
					} else {
						p.i = save
					}
				}
				r = r2
			}
			sb.WriteRune(r)
		default:
			return "", fmt.Errorf("%w at %d: bad escape", errSyntax, p.i)
		}
	}
	return "", fmt.Errorf("%w: unterminated string", errSyntax)
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// record reads one record's array, with its names as indexes into dict,
// or as strings when dict is nil.
func (p *jsonParser) record(dict []string) (*record.Record, error) {
	r := new(record.Record)
	return r, p.recordInto(r, dict, false)
}

// recordInto is record into r; versioned: the array starts with the
// journal line format number.
func (p *jsonParser) recordInto(r *record.Record, dict []string, versioned bool) error {
	var est bool
	field := 0
	if versioned {
		field = -1
	}
	name := func() (string, error) {
		if dict == nil {
			return p.str()
		}
		v, err := p.int()
		if err != nil {
			return "", err
		}
		if v < 0 || v >= int64(len(dict)) {
			return "", fmt.Errorf("field %d: name %d outside the dict", field, v)
		}
		return dict[v], nil
	}
	err := p.array(func() error {
		var err error
		var v int64
		switch f := field; {
		case f == -1:
			if v, err = p.int(); err == nil && v != lineFormat {
				err = fmt.Errorf("line format %d", v)
			}
		case f == 0:
			r.ID, err = p.str()
		case f == 1 || f == 2:
			if v, err = p.int(); err == nil {
				if f == 1 {
					r.StartTime = time.UnixMicro(v).UTC()
				} else {
					r.EndTime = time.UnixMicro(v).UTC()
				}
			}
		case f >= 3 && f <= 15, f == 27, f == 29:
			var s string
			if s, err = name(); err != nil {
				break
			}
			switch f {
			case 3:
				r.KeyHash = s
			case 4:
				r.KeyAlias = s
			case 5:
				r.User = s
			case 6:
				r.Team = s
			case 7:
				r.EndUser = s
			case 8:
				r.Route = s
			case 9:
				r.ClientDialect = llm.Dialect(s)
			case 10:
				r.ModelRequested = s
			case 11:
				r.ModelGroup = s
			case 12:
				r.DeploymentID = s
			case 13:
				r.Provider = s
			case 14:
				r.UpstreamModel = s
			case 15:
				r.APIBase = s
			case 27:
				r.Status = record.Status(s)
			case 29:
				r.ErrorKind = s
			}
		case f == 23:
			r.Cost, err = p.float()
		case f == 30:
			r.ErrorMessage, err = p.str()
		case f == 34:
			err = p.array(func() error {
				s, err := p.str()
				r.Tags = append(r.Tags, s)
				return err
			})
		case f == 35:
			r.Prompt, err = p.str()
		case f == 36:
			r.Response, err = p.str()
		case f < dataFields:
			if v, err = p.int(); err == nil {
				switch f {
				case 16:
					r.Stream = v != 0
				case 17:
					r.Usage.InputTokens = int(v)
				case 18:
					r.Usage.OutputTokens = int(v)
				case 19:
					r.Usage.CacheReadTokens = int(v)
				case 20:
					r.Usage.CacheWriteTokens = int(v)
				case 21:
					r.Usage.ReasoningTokens = int(v)
				case 22:
					est = v != 0
				case 24:
					r.Latency = time.Duration(v)
				case 25:
					r.TTFT = time.Duration(v)
				case 26:
					r.UpstreamLatency = time.Duration(v)
				case 28:
					r.HTTPStatus = int(v)
				case 31:
					r.CacheHit = v != 0
				case 32:
					r.Retries = int(v)
				case 33:
					r.Fallbacks = int(v)
				}
			}
		default:
			err = fmt.Errorf("more than %d fields", dataFields)
		}
		field++
		return err
	})
	if err != nil {
		return err
	}
	if field != dataFields {
		return fmt.Errorf("%d fields, want %d", field, dataFields)
	}
	r.UsageEstimated, r.Usage.Estimated = est, est
	return nil
}

// storedString is s as the store keeps it: valid UTF-8 (every byte of
// invalid UTF-8 becomes U+FFFD, as a journal line reads back), without NUL
// bytes (as the row layout stored text).
func storedString(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case r != 0:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
