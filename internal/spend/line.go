package spend

import (
	"errors"
	"fmt"
	"math"
	"sync"

	gojson "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/internal/record"
)

// A journal line is one record as a JSON array and a '\n':
//
//	[2, <the 37 fields of a batch record (see batch.go), names as strings>]
//
// 2 is the line format. Times are in µs (what the stores keep), durations
// in ns, strings as the stores keep them (storedString). About half the
// bytes of the record as a JSON object, and encoded without reflection.
//
// Journals of earlier versions hold the record as encoding/json writes a
// record.Record (an object); the replay reads those too (parseLine).
const lineFormat = 2

var errNonFinite = errors.New("spend: cost is not a finite number")

// appendLine appends r's journal line to dst. It fails on a NaN or
// infinite cost, which JSON cannot hold.
func appendLine(dst []byte, r *record.Record) ([]byte, error) {
	if math.IsNaN(r.Cost) || math.IsInf(r.Cost, 0) {
		return dst, errNonFinite
	}
	names := recordNames(r)
	b := append(dst, "[2,"...)
	b = appendFields(b, r, names[:], nil)
	return append(b, "]\n"...), nil
}

// parseLine decodes a journal line (without its '\n') into r: this
// version's array, or an earlier version's object.
func parseLine(line []byte, r *record.Record) error {
	if len(line) > 0 && line[0] == '{' {
		if err := gojson.Unmarshal(line, r); err != nil {
			return err
		}
	} else {
		p := jsonParser{b: line}
		if err := p.recordInto(r, nil, true); err != nil {
			return fmt.Errorf("journal line: %w", err)
		}
		if err := p.end(); err != nil {
			return fmt.Errorf("journal line: %w", err)
		}
	}
	if r.ID == "" {
		return errors.New("journal line: no record id")
	}
	return nil
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
