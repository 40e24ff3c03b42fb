package spend

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/record"
)

// A journal line is a record.Record as encoding/json writes it (field
// names as in Go, times in RFC 3339, durations in nanoseconds, HTML left
// unescaped) and a '\n'. appendLine writes exactly those bytes without
// reflection; the replay reads lines with json.Unmarshal, so journals of
// either encoder replay. TestAppendLineMatchesEncodingJSON holds the two
// encoders to the same output, and fails when record.Record gains a field
// appendLine does not write.

var errBadFloat = errors.New("spend: cost is not a finite number")

// appendLine appends r's journal line to dst. Like encoding/json it fails
// on a non-finite Cost and on a time outside years 0-9999.
func appendLine(dst []byte, r *record.Record) ([]byte, error) {
	var err error
	b := append(dst, `{"ID":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"StartTime":"`...)
	if b, err = r.StartTime.AppendText(b); err != nil {
		return dst, err
	}
	b = append(b, `","EndTime":"`...)
	if b, err = r.EndTime.AppendText(b); err != nil {
		return dst, err
	}
	b = append(b, `","KeyHash":`...)
	b = appendString(b, r.KeyHash)
	b = append(b, `,"KeyAlias":`...)
	b = appendString(b, r.KeyAlias)
	b = append(b, `,"User":`...)
	b = appendString(b, r.User)
	b = append(b, `,"Team":`...)
	b = appendString(b, r.Team)
	b = append(b, `,"EndUser":`...)
	b = appendString(b, r.EndUser)
	b = append(b, `,"Route":`...)
	b = appendString(b, r.Route)
	b = append(b, `,"ClientDialect":`...)
	b = appendString(b, string(r.ClientDialect))
	b = append(b, `,"ModelRequested":`...)
	b = appendString(b, r.ModelRequested)
	b = append(b, `,"ModelGroup":`...)
	b = appendString(b, r.ModelGroup)
	b = append(b, `,"DeploymentID":`...)
	b = appendString(b, r.DeploymentID)
	b = append(b, `,"Provider":`...)
	b = appendString(b, r.Provider)
	b = append(b, `,"UpstreamModel":`...)
	b = appendString(b, r.UpstreamModel)
	b = append(b, `,"APIBase":`...)
	b = appendString(b, r.APIBase)
	b = append(b, `,"Stream":`...)
	b = strconv.AppendBool(b, r.Stream)
	u := &r.Usage
	b = append(b, `,"Usage":{"InputTokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokens), 10)
	b = append(b, `,"OutputTokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	b = append(b, `,"CacheReadTokens":`...)
	b = strconv.AppendInt(b, int64(u.CacheReadTokens), 10)
	b = append(b, `,"CacheWriteTokens":`...)
	b = strconv.AppendInt(b, int64(u.CacheWriteTokens), 10)
	b = append(b, `,"ReasoningTokens":`...)
	b = strconv.AppendInt(b, int64(u.ReasoningTokens), 10)
	b = append(b, `,"Estimated":`...)
	b = strconv.AppendBool(b, u.Estimated)
	b = append(b, `},"UsageEstimated":`...)
	b = strconv.AppendBool(b, r.UsageEstimated)
	b = append(b, `,"Cost":`...)
	if b, err = appendFloat(b, r.Cost); err != nil {
		return dst, err
	}
	b = append(b, `,"Latency":`...)
	b = strconv.AppendInt(b, int64(r.Latency), 10)
	b = append(b, `,"TTFT":`...)
	b = strconv.AppendInt(b, int64(r.TTFT), 10)
	b = append(b, `,"UpstreamLatency":`...)
	b = strconv.AppendInt(b, int64(r.UpstreamLatency), 10)
	b = append(b, `,"Status":`...)
	b = appendString(b, string(r.Status))
	b = append(b, `,"HTTPStatus":`...)
	b = strconv.AppendInt(b, int64(r.HTTPStatus), 10)
	b = append(b, `,"ErrorKind":`...)
	b = appendString(b, r.ErrorKind)
	b = append(b, `,"ErrorMessage":`...)
	b = appendString(b, r.ErrorMessage)
	b = append(b, `,"CacheHit":`...)
	b = strconv.AppendBool(b, r.CacheHit)
	b = append(b, `,"Retries":`...)
	b = strconv.AppendInt(b, int64(r.Retries), 10)
	b = append(b, `,"Fallbacks":`...)
	b = strconv.AppendInt(b, int64(r.Fallbacks), 10)
	b = append(b, `,"Tags":`...)
	if r.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range r.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"Prompt":`...)
	b = appendString(b, r.Prompt)
	b = append(b, `,"Response":`...)
	b = appendString(b, r.Response)
	b = append(b, "}\n"...)
	return b, nil
}

// appendFloat writes f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form below 1e-6 and from 1e21 on, with the
// exponent's leading zero dropped (1e-7, not 1e-07).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errBadFloat
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does
// without HTML escaping: '"', '\\' and control characters escaped (\n, \r,
// \t, \b, \f, else \u00XX), invalid UTF-8 replaced by \ufffd, and U+2028
// and U+2029 escaped (JavaScript reads them as line ends).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is pending, to be copied as is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
