package spend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

// A batch is how the SQLite store keeps records: one row per inserted
// batch holding the records' journal lines as a JSON array (data) and a
// compact summary of each record (cols) that filters, reports and stats
// read without decoding JSON:
//
//	cols = version(1) uvarint(#strings) {uvarint(len) bytes}…
//	       uvarint(#records) {record}…
//	record = varint(start µs − previous start µs) uvarint(line length)
//	         uvarint(key) uvarint(user) uvarint(team) uvarint(model) uvarint(deployment)
//	         byte(flags: 1 = success) varint(latency ns)
//	         varint(input) varint(output) varint(cache read) varint(cache write) varint(total)
//	         8 bytes little-endian float64(cost)
//
// The five names are indexes into the string table (0 is always ""), and
// line i is data[off(i) : off(i)+length(i)] with off(0) = 1 and
// off(i+1) = off(i) + length(i) + 1: data is "[" line0 "," line1 … "]".

const colsVersion = 1

// colRec is one record's summary.
type colRec struct {
	start                       int64 // µs since the Unix epoch
	off, n                      int   // the line: data[off : off+n]
	key, user, team, model, dep uint32
	success                     bool
	latency                     int64 // ns
	in, out, cacheRead, cacheW  int64
	total                       int64
	cost                        float64
}

// batchCols is a decoded cols blob.
type batchCols struct {
	strs []string
	recs []colRec
}

// keyKinds are the filterable names, in spend_batch_keys.kind order.
const (
	kindKey = iota + 1
	kindUser
	kindTeam
	kindModel
)

// batchEncoder builds the cols and data of one batch row.
type batchEncoder struct {
	dict  map[string]uint32
	strs  []string
	last  [5]string // the previous record's names: most repeat
	lastI [5]uint32
	recs  []byte
	n     int
	prev  int64
	minSt int64
	maxSt int64
	data  []byte
	keys  map[[2]uint32]struct{} // (kind, string index) of non-empty names
}

func (e *batchEncoder) reset() {
	if e.dict == nil {
		e.dict = make(map[string]uint32)
		e.keys = make(map[[2]uint32]struct{})
	}
	clear(e.dict)
	clear(e.keys)
	e.strs = append(e.strs[:0], "")
	e.dict[""] = 0
	e.last, e.lastI = [5]string{}, [5]uint32{}
	e.recs = e.recs[:0]
	e.n, e.prev = 0, 0
	e.minSt, e.maxSt = math.MaxInt64, math.MinInt64
	e.data = append(e.data[:0], '[')
}

func (e *batchEncoder) intern(slot int, s string) uint32 {
	if s == e.last[slot] {
		return e.lastI[slot]
	}
	s = storedString(s)
	i, ok := e.dict[s]
	if !ok {
		i = uint32(len(e.strs))
		e.strs = append(e.strs, s)
		e.dict[s] = i
	}
	e.last[slot], e.lastI[slot] = s, i
	return i
}

// add appends a record and its journal line (with or without its '\n').
func (e *batchEncoder) add(r *record.Record, line []byte) {
	u := r.Usage
	e.put(r.StartTime.UnixMicro(), line, [5]string{r.KeyHash, r.User, r.Team, r.ModelGroup, r.DeploymentID},
		r.Status == record.StatusSuccess, int64(r.Latency),
		[5]int64{int64(u.InputTokens), int64(u.OutputTokens), int64(u.CacheReadTokens), int64(u.CacheWriteTokens), int64(u.Total())},
		r.Cost)
}

// addCol appends a record of a decoded batch and its stored line.
func (e *batchEncoder) addCol(c *batchCols, r *colRec, line []byte) {
	e.put(r.start, line, [5]string{c.strs[r.key], c.strs[r.user], c.strs[r.team], c.strs[r.model], c.strs[r.dep]},
		r.success, r.latency, [5]int64{r.in, r.out, r.cacheRead, r.cacheW, r.total}, r.cost)
}

func (e *batchEncoder) put(start int64, line []byte, names [5]string, success bool, latency int64, nums [5]int64, cost float64) {
	line = trimNL(line)
	if e.n > 0 {
		e.data = append(e.data, ',')
	}
	e.data = append(e.data, line...)
	e.minSt, e.maxSt = min(e.minSt, start), max(e.maxSt, start)
	b := binary.AppendVarint(e.recs, start-e.prev)
	e.prev = start
	b = binary.AppendUvarint(b, uint64(len(line)))
	for slot, s := range names {
		i := e.intern(slot, s)
		if slot < 4 && i != 0 {
			e.keys[[2]uint32{uint32(slot + kindKey), i}] = struct{}{}
		}
		b = binary.AppendUvarint(b, uint64(i))
	}
	var flags byte
	if success {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, latency)
	for _, v := range nums {
		b = binary.AppendVarint(b, v)
	}
	e.recs = binary.LittleEndian.AppendUint64(b, math.Float64bits(cost))
	e.n++
}

// cols returns the encoded summary; data the JSON array. Both are valid
// until the next reset.
func (e *batchEncoder) cols() []byte {
	out := make([]byte, 0, len(e.recs)+16*len(e.strs)+16)
	out = append(out, colsVersion)
	out = binary.AppendUvarint(out, uint64(len(e.strs)))
	for _, s := range e.strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	out = binary.AppendUvarint(out, uint64(e.n))
	return append(out, e.recs...)
}

func (e *batchEncoder) dataBytes() []byte { return append(e.data, ']') }

func trimNL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		return line[:n-1]
	}
	return line
}

var errBadCols = errors.New("spend: malformed batch summary")

// decodeCols parses a cols blob; dataLen is the length of the batch's
// data, which every line must fit in.
func decodeCols(b []byte, dataLen int) (*batchCols, error) {
	if len(b) == 0 || b[0] != colsVersion {
		return nil, fmt.Errorf("%w: version", errBadCols)
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
	ns, ok := next()
	if !ok || ns == 0 || ns > uint64(len(b))+1 {
		return nil, fmt.Errorf("%w: string table", errBadCols)
	}
	c := &batchCols{strs: make([]string, ns)}
	for i := range c.strs {
		l, ok := next()
		if !ok || l > uint64(len(b)) {
			return nil, fmt.Errorf("%w: string %d", errBadCols, i)
		}
		c.strs[i] = string(b[:l])
		b = b[l:]
	}
	if c.strs[0] != "" {
		return nil, fmt.Errorf("%w: string 0", errBadCols)
	}
	nr, ok := next()
	// A record takes at least 22 bytes.
	if !ok || nr > uint64(len(b))/22+1 {
		return nil, fmt.Errorf("%w: record count", errBadCols)
	}
	c.recs = make([]colRec, nr)
	var start int64
	off := 1
	for i := range c.recs {
		r := &c.recs[i]
		d, ok1 := nextInt()
		l, ok2 := next()
		if !ok1 || !ok2 || l > uint64(dataLen) || off+int(l) >= dataLen {
			return nil, fmt.Errorf("%w: record %d line", errBadCols, i)
		}
		start += d
		r.start, r.off, r.n = start, off, int(l)
		off += int(l) + 1
		var names [5]uint32
		for k := range names {
			v, ok := next()
			if !ok || v >= ns {
				return nil, fmt.Errorf("%w: record %d name", errBadCols, i)
			}
			names[k] = uint32(v)
		}
		r.key, r.user, r.team, r.model, r.dep = names[0], names[1], names[2], names[3], names[4]
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: record %d flags", errBadCols, i)
		}
		r.success = b[0]&1 != 0
		b = b[1:]
		var nums [6]int64
		for k := range nums {
			v, ok := nextInt()
			if !ok {
				return nil, fmt.Errorf("%w: record %d numbers", errBadCols, i)
			}
			nums[k] = v
		}
		r.latency, r.in, r.out, r.cacheRead, r.cacheW, r.total = nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: record %d cost", errBadCols, i)
		}
		r.cost = math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadCols, len(b))
	}
	if nr > 0 && off != dataLen {
		return nil, fmt.Errorf("%w: lines cover %d of %d data bytes", errBadCols, off, dataLen)
	}
	return c, nil
}

// decodeLine turns one stored journal line into the record Query
// returns: times in UTC at microsecond precision (what the store keeps
// in its summary and pages by), text as the database would store it.
func decodeLine(line []byte, start int64) (*record.Record, error) {
	var r record.Record
	if err := gojson.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("spend: stored record: %w", err)
	}
	normalize(&r)
	r.StartTime = time.UnixMicro(start).UTC()
	return &r, nil
}

// normalize makes r what the row layout returned: UTC microsecond times,
// stored strings, one usage-estimated flag, no empty tag list.
func normalize(r *record.Record) {
	r.StartTime = time.UnixMicro(r.StartTime.UnixMicro()).UTC()
	r.EndTime = time.UnixMicro(r.EndTime.UnixMicro()).UTC()
	est := r.UsageEstimated || r.Usage.Estimated
	r.UsageEstimated, r.Usage.Estimated = est, est
	for _, p := range []*string{&r.ID, &r.KeyHash, &r.KeyAlias, &r.User, &r.Team, &r.EndUser, &r.Route,
		&r.ModelRequested, &r.ModelGroup, &r.DeploymentID, &r.Provider, &r.UpstreamModel, &r.APIBase,
		&r.ErrorKind, &r.ErrorMessage, &r.Prompt, &r.Response} {
		*p = storedString(*p)
	}
	r.ClientDialect = llm.Dialect(storedString(string(r.ClientDialect)))
	r.Status = record.Status(storedString(string(r.Status)))
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	for i, t := range r.Tags {
		r.Tags[i] = storedString(t)
	}
}

// storedString is s as a journal line reads back (every byte of invalid
// UTF-8 becomes U+FFFD), without NUL bytes (as the row layout stored it).
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
