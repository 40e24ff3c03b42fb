package anthropic

import (
	"errors"
	json "github.com/goccy/go-json"
	"io"
	"net/http"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

// ErrStreamTruncated is the cause of the error a stream reader returns when
// the upstream's stream ends before message_stop.
var ErrStreamTruncated = errors.New("upstream stream ended before message_stop")

// streamReader turns an Anthropic SSE stream into hub events.
type streamReader struct {
	body  io.Reader
	sse   *sse.Reader
	queue []llm.Event
	qpos  int

	started bool
	done    bool
	err     error
	// blocks maps a content block index to its type, so deltas of blocks the
	// hub cannot carry (server tools) are skipped.
	blocks map[int]string

	stopReason   string
	stopSequence string
	usage        llm.Usage
	sawUsage     bool
}

// NewStreamReader reads an Anthropic upstream's SSE stream.
func (Codec) NewStreamReader(body io.Reader) llm.Stream {
	return &streamReader{body: body, sse: sse.NewReader(body), blocks: make(map[int]string)}
}

func (r *streamReader) Close() error {
	if c, ok := r.body.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (r *streamReader) push(ev llm.Event) { r.queue = append(r.queue, ev) }

func upstreamErr(msg string, err error) *llm.Error {
	return &llm.Error{Kind: llm.KindUpstream, Message: msg, Err: err}
}

// Next returns the next hub event; io.EOF after EventStop.
func (r *streamReader) Next() (llm.Event, error) {
	for {
		if r.qpos < len(r.queue) {
			ev := r.queue[r.qpos]
			r.qpos++
			return ev, nil
		}
		r.queue, r.qpos = r.queue[:0], 0
		if r.err != nil {
			return llm.Event{}, r.err
		}
		if r.done {
			return llm.Event{}, io.EOF
		}
		r.err = r.step()
	}
}

// usageFrom merges wire usage into the stream's usage and returns the hub
// form of what this event reported, nil if nothing.
func (r *streamReader) usageFrom(u *usageIn) *llm.Usage {
	if u == nil {
		return nil
	}
	var got llm.Usage
	set := false
	if u.InputTokens != nil {
		got.InputTokens, set = *u.InputTokens, true
	}
	if u.OutputTokens != nil {
		got.OutputTokens, set = *u.OutputTokens, true
	}
	if u.CacheReadInputTokens != nil {
		got.CacheReadTokens, set = *u.CacheReadInputTokens, true
	}
	if u.CacheCreationInputTokens != nil {
		got.CacheWriteTokens, set = *u.CacheCreationInputTokens, true
	}
	if !set {
		return nil
	}
	r.sawUsage = true
	mergeUsage(&r.usage, &got)
	return &got
}

// step reads one SSE event and queues its hub events.
func (r *streamReader) step() error {
	ev, err := r.sse.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return upstreamErr(ErrStreamTruncated.Error(), ErrStreamTruncated)
		}
		return upstreamErr("reading upstream stream failed", err)
	}
	if len(ev.Data) == 0 {
		return nil
	}
	var se streamEvent
	if err := json.Unmarshal(ev.Data, &se); err != nil {
		return &llm.Error{Kind: llm.KindUpstream, Message: "upstream sent invalid JSON in its stream", Err: err,
			Body: trimBody(ev.Data, 4096)}
	}
	typ := se.Type
	if typ == "" {
		typ = string(ev.Name)
	}
	if !r.started && typ != "message_start" && typ != "ping" && typ != "error" {
		return upstreamErr("upstream stream did not begin with message_start", nil)
	}
	switch typ {
	case "message_start":
		if r.started {
			return nil
		}
		r.started = true
		start := llm.Event{Type: llm.EventStart}
		if se.Message != nil {
			start.ID, start.Model = se.Message.ID, se.Message.Model
			start.Usage = r.usageFrom(se.Message.Usage)
		}
		r.push(start)
	case "content_block_start":
		if se.ContentBlock == nil {
			return upstreamErr("upstream content_block_start without content_block", nil)
		}
		b := se.ContentBlock
		r.blocks[se.Index] = b.Type
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				r.push(llm.Event{Type: llm.EventTextDelta, Index: se.Index, Text: *b.Text})
			}
		case "thinking":
			if b.Thinking != nil && *b.Thinking != "" {
				r.push(llm.Event{Type: llm.EventThinkingDelta, Index: se.Index, Text: *b.Thinking})
			}
			if b.Signature != nil && *b.Signature != "" {
				r.push(llm.Event{Type: llm.EventSignatureDelta, Index: se.Index, Text: *b.Signature})
			}
		case "tool_use":
			r.push(llm.Event{Type: llm.EventToolCallStart, Index: se.Index, ID: b.ID, Name: b.Name})
			if in := compactJSON(b.Input); in != "{}" {
				r.push(llm.Event{Type: llm.EventToolArgsDelta, Index: se.Index, Text: in})
			}
		}
	case "content_block_delta":
		if se.Delta == nil {
			return nil
		}
		kind := r.blocks[se.Index]
		d := se.Delta
		switch d.Type {
		case "text_delta":
			if kind == "text" && d.Text != "" {
				r.push(llm.Event{Type: llm.EventTextDelta, Index: se.Index, Text: d.Text})
			}
		case "thinking_delta":
			if kind == "thinking" && d.Thinking != "" {
				r.push(llm.Event{Type: llm.EventThinkingDelta, Index: se.Index, Text: d.Thinking})
			}
		case "signature_delta":
			if kind == "thinking" && d.Signature != "" {
				r.push(llm.Event{Type: llm.EventSignatureDelta, Index: se.Index, Text: d.Signature})
			}
		case "input_json_delta":
			if kind == "tool_use" && d.PartialJSON != "" {
				r.push(llm.Event{Type: llm.EventToolArgsDelta, Index: se.Index, Text: d.PartialJSON})
			}
		}
	case "message_delta":
		if se.Delta != nil {
			if se.Delta.StopReason != nil {
				r.stopReason = *se.Delta.StopReason
			}
			if se.Delta.StopSequence != nil {
				r.stopSequence = *se.Delta.StopSequence
			}
		}
		if u := r.usageFrom(se.Usage); u != nil {
			r.push(llm.Event{Type: llm.EventUsage, Usage: u})
		}
	case "message_stop":
		stop := llm.Event{Type: llm.EventStop, StopReason: hubStop(r.stopReason), StopSequence: r.stopSequence}
		if r.sawUsage {
			u := r.usage
			stop.Usage = &u
		}
		r.push(stop)
		r.done = true
	case "error":
		return inbandError(ev.Data, se.Error)
	}
	// ping, content_block_stop and unknown events carry nothing for the hub.
	return nil
}

// inbandError classifies an `event: error` from an Anthropic stream.
func inbandError(data []byte, d *ErrorDetail) *llm.Error {
	e := &llm.Error{Kind: llm.KindUpstream, Message: "upstream reported an error", Status: http.StatusOK,
		Body: trimBody(data, 64<<10), BodyDialect: llm.DialectAnthropic}
	if d != nil {
		if k, ok := kindOfType(d.Type); ok {
			e.Kind = k
		}
		if d.Message != "" {
			e.Message = d.Message
		}
		if e.Kind == llm.KindInvalidRequest && isContextWindow(d.Message) {
			e.Kind = llm.KindContextWindow
		}
	}
	return e
}
