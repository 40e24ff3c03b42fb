package spend

import (
	"bytes"
	"sync"

	gojson "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/internal/record"
)

// A journal line is a record.Record as encoding/json writes it (field
// names as in Go, times in RFC 3339, durations in nanoseconds, HTML left
// unescaped) and a '\n'. appendLine writes it with go-json, which caches
// its encoder per type instead of reflecting on every record; the replay
// reads lines with json.Unmarshal. TestAppendLineMatchesEncodingJSON and
// FuzzAppendLine hold the output byte-equal to encoding/json's, so
// journals written by either replay.

// appendLine appends r's journal line to dst. Like encoding/json it fails
// on a non-finite Cost and on a time outside years 0-9999.
func appendLine(dst []byte, r *record.Record) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := gojson.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil { // one line, '\n'-terminated
		return dst, err
	}
	return buf.Bytes(), nil
}

// lineBuf is a pooled buffer for one journal line.
type lineBuf struct{ b []byte }

var linePool = sync.Pool{New: func() any { return &lineBuf{b: make([]byte, 0, 1024)} }}

func getLineBuf() *lineBuf { return linePool.Get().(*lineBuf) }

// putLineBuf returns lb to the pool unless it grew large (a stored prompt).
func putLineBuf(lb *lineBuf) {
	if cap(lb.b) <= 64<<10 {
		lb.b = lb.b[:0]
		linePool.Put(lb)
	}
}
