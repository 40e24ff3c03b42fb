package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/tokens"
)

// maxStoredPrompt bounds the prompt text kept with store_prompts_in_spend_logs.
const maxStoredPrompt = 64 << 10

// hashKey is how keys appear in records and spend queries: SHA-256 hex.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// finish builds the record of a chat call and hands it to the sinks, once.
//
// The success paths call it (through call.recordNow) right before the last
// byte of the response goes out, and the sink makes the spend record durable
// before it returns: a client never sees a complete response whose record a
// crash could lose. Error replies are recorded before they are rendered.
func (s *Server) finish(info *reqInfo, status int) {
	if s.opts.Sink == nil || info.route == "" || info.recorded {
		return
	}
	info.recorded = true
	end := time.Now()
	info.end = end
	// In the request's info: one allocation less per request. Set field
	// by field: a composite literal stored through a pointer into info is
	// built in a temporary on the stack first, then copied.
	rec := &info.rec
	*rec = record.Record{}
	rec.ID, rec.StartTime, rec.EndTime = info.reqID, info.start, end
	rec.KeyHash, rec.Route, rec.ClientDialect = info.keyHash, info.route, info.client
	rec.ModelRequested, rec.ModelGroup, rec.Stream = info.model, info.group, info.stream
	rec.Latency, rec.TTFT, rec.UpstreamLatency = end.Sub(info.start), info.ttfb, info.upstreamTime
	rec.HTTPStatus, rec.Retries, rec.Fallbacks = status, info.retries, info.fallbacks
	if d := info.dep; d != nil {
		rec.DeploymentID = d.ID()
		rec.Provider = d.Cfg.Provider
		rec.APIBase = d.Cfg.APIBase
		rec.UpstreamModel = info.upstreamModel
	}
	rec.User, rec.EndUser, rec.Tags = info.user, info.user, info.tags
	rec.Usage = info.usage
	if !info.hasUsage && info.dep != nil {
		// The upstream reported nothing: count with our estimate.
		in := info.inputEstimate
		if in == 0 {
			in = tokens.EstimateBytes(info.body)
		}
		rec.Usage = llm.Usage{InputTokens: in, OutputTokens: tokens.EstimateBytes(info.outputText()), Estimated: true}
	}
	rec.UsageEstimated = rec.Usage.Estimated
	if info.dep != nil && s.opts.Price != nil {
		if info.priced && info.hasUsage {
			rec.Cost = info.cost // the reply's cost header was priced from the same usage
		} else {
			rec.Cost = s.opts.Price(info.dep, info.upstreamModel, rec.Usage)
		}
	}
	rec.Status = record.StatusSuccess
	if info.err != nil || status >= 400 {
		rec.Status = record.StatusFailure
		if info.err != nil {
			e := llm.AsError(info.err)
			rec.ErrorKind, rec.ErrorMessage = e.Kind.String(), e.Message
		}
	}
	if s.opts.StorePrompts {
		p := info.body
		if len(p) > maxStoredPrompt {
			p = p[:maxStoredPrompt]
		}
		rec.Prompt = string(p)
		rec.Response = info.response
	}
	s.opts.Sink.Record(rec)
}

// outTextLimit bounds the output text kept for estimating usage.
const outTextLimit = 1 << 20

// noteOutput keeps output text for a usage estimate when the upstream
// reports no usage.
func (info *reqInfo) noteOutput(text string) {
	if info.outText.Len() < outTextLimit {
		info.outText.WriteString(text)
	}
}

var (
	contentKey = []byte(`"content":"`)
	textKey    = []byte(`"text":"`)
)

// noteOutputEvent keeps a relayed event's data for the estimate: as it is
// (a copy), since the upstream nearly always reports usage at the end and
// the text is then never read; outText takes the text of what is kept
// whenever outRawLimit bytes are held, and when an estimate is made.
func (info *reqInfo) noteOutputEvent(data []byte) {
	if info.outText.Len() >= outTextLimit {
		return
	}
	if len(data) > outRawLimit/2 {
		info.takeOutRaw() // in order
		info.noteEventText(data)
		return
	}
	if info.outRaw == nil {
		info.outRaw = outRawBufs.Get().(*[]byte)
	} else if len(*info.outRaw)+len(data)+binary.MaxVarintLen64 > outRawLimit {
		info.takeOutRaw()
	}
	b := binary.AppendUvarint(*info.outRaw, uint64(len(data)))
	*info.outRaw = append(b, data...)
}

// outRawBufs are noteOutputEvent's buffers, one per stream while it runs.
var outRawBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// releaseOutput returns the request's event buffer (the request is over).
func (info *reqInfo) releaseOutput() {
	if info.outRaw != nil {
		*info.outRaw = (*info.outRaw)[:0]
		outRawBufs.Put(info.outRaw)
		info.outRaw = nil
	}
}

// outRawLimit bounds the relayed event data kept before its text is taken.
const outRawLimit = 32 << 10

// takeOutRaw moves the text of the events noteOutputEvent kept to outText.
func (info *reqInfo) takeOutRaw() {
	if info.outRaw == nil {
		return
	}
	b := *info.outRaw
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			break
		}
		info.noteEventText(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	*info.outRaw = (*info.outRaw)[:0]
}

// resetOutput drops the output kept so far (a new attempt begins).
func (info *reqInfo) resetOutput() {
	info.outText.Reset()
	if info.outRaw != nil {
		*info.outRaw = (*info.outRaw)[:0]
	}
}

// outputText is the output text kept for the estimate.
func (info *reqInfo) outputText() []byte {
	info.takeOutRaw()
	return info.outText.Bytes()
}

// noteEventText keeps the text of an event's data: an OpenAI chunk's delta
// content, or an Anthropic content_block_delta's text. It reads the string
// after the key where it first appears instead of walking a path: inside a
// JSON string every quote is escaped, so the key's bytes only match a key.
func (info *reqInfo) noteEventText(data []byte) {
	if info.outText.Len() >= outTextLimit {
		return
	}
	key := contentKey
	if info.client == llm.DialectAnthropic {
		key = textKey
	}
	i := bytes.Index(data, key)
	if i < 0 {
		return
	}
	// Parsed in place (ParseBytes would copy the rest of the event); Str
	// is copied into outText at once.
	rest := data[i+len(key)-1:]
	if v := gjson.Parse(unsafe.String(unsafe.SliceData(rest), len(rest))); v.Type == gjson.String {
		info.outText.WriteString(v.Str)
	}
}
