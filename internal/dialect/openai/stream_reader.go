package openai

import (
	"bytes"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"io"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/tidwall/gjson"
)

// NewStreamReader reads an upstream's chat.completion.chunk stream as hub
// events. Only choice 0 is read (the hub has one answer per request).
func (Codec) NewStreamReader(body io.Reader) llm.Stream {
	return &streamReader{body: body, r: sse.NewReader(body), calls: make(map[int]*toolCallState)}
}

type toolCallState struct {
	id      string
	name    string
	started bool
	// pending holds argument fragments that arrived before the name.
	pending strings.Builder
}

type streamReader struct {
	body io.Reader
	r    *sse.Reader

	queue []llm.Event
	qpos  int
	err   error // sticky: returned once the queue drains
	ended bool

	started      bool
	id, model    string
	finish       string
	sawFinish    bool
	stopSeq      string
	usage        llm.Usage
	sawUsage     bool
	calls        map[int]*toolCallState
	lastCall     int // index of the most recent call, for servers that omit index
	sawToolCalls bool
	pending      int // bytes held in all calls' pending buffers
}

func (s *streamReader) Close() error {
	if c, ok := s.body.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (s *streamReader) emit(ev llm.Event) { s.queue = append(s.queue, ev) }

func upstreamErr(msg string, err error) *llm.Error {
	return &llm.Error{Kind: llm.KindUpstream, Message: msg, Err: err}
}

func (s *streamReader) Next() (llm.Event, error) {
	for {
		if s.qpos < len(s.queue) {
			ev := s.queue[s.qpos]
			s.qpos++
			return ev, nil
		}
		s.queue, s.qpos = s.queue[:0], 0
		if s.err != nil {
			return llm.Event{}, s.err
		}
		if s.ended {
			return llm.Event{}, io.EOF
		}
		s.err = s.step()
	}
}

// step reads one SSE event and queues the hub events it yields. It returns
// the error that ends the stream, if any; queued events are delivered first.
func (s *streamReader) step() error {
	ev, err := s.r.Next()
	if err != nil {
		if errors.Is(err, io.EOF) && s.sawFinish {
			return s.stop()
		}
		if errors.Is(err, io.EOF) {
			return upstreamErr("upstream stream ended before finish_reason", nil)
		}
		return upstreamErr("reading upstream stream", err)
	}
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return nil
	}
	if string(data) == "[DONE]" {
		return s.stop()
	}
	return s.chunk(data)
}

// stop queues the final events: tool calls whose name never came are an
// error, then Stop with the merged usage.
func (s *streamReader) stop() error {
	for idx, c := range s.calls {
		if !c.started {
			return upstreamErr("upstream stream has a tool call without a name", fmt.Errorf("tool call index %d", idx))
		}
	}
	s.ensureStart()
	stop := llm.Event{Type: llm.EventStop, StopReason: stopReason(s.finish, s.sawToolCalls), StopSequence: s.stopSeq}
	if stop.StopSequence != "" && stop.StopReason == llm.StopEnd {
		stop.StopReason = llm.StopSequence
	}
	if s.sawUsage {
		u := s.usage
		stop.Usage = &u
	}
	s.emit(stop)
	s.ended = true
	return nil
}

func (s *streamReader) ensureStart() {
	if !s.started {
		s.started = true
		s.emit(llm.Event{Type: llm.EventStart, ID: s.id, Model: s.model})
	}
}

// wireChunk is a chunk as upstreams send it, with an in-band error.
type wireChunk struct {
	ID      string           `json:"id"`
	Model   string           `json:"model"`
	Choices []ChunkChoice    `json:"choices"`
	Usage   *CompletionUsage `json:"usage"`
	Error   json.RawMessage  `json:"error"`
	// Object is "error" in vLLM's in-band error shape.
	Object string `json:"object"`
}

func (s *streamReader) chunk(data []byte) error {
	var c wireChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return upstreamErr("upstream sent a malformed stream chunk", err)
	}
	if !isNull(c.Error) || c.Object == "error" {
		return inBandError(data)
	}
	if s.id == "" {
		s.id = c.ID
	}
	if s.model == "" {
		s.model = c.Model
	}
	s.ensureStart()
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		if err := s.delta(&ch.Delta); err != nil {
			return err
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish, s.sawFinish = *ch.FinishReason, true
			if seq := stopSequence(ch.StopReason); seq != "" {
				s.stopSeq = seq
			}
		}
	}
	if c.Usage != nil {
		u := hubUsage(c.Usage)
		s.usage.Merge(u)
		s.sawUsage = true
		s.emit(llm.Event{Type: llm.EventUsage, Usage: &u})
	}
	return nil
}

func (s *streamReader) delta(d *ChunkDelta) error {
	reasoning := d.ReasoningContent
	if reasoning == nil {
		reasoning = d.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		s.emit(llm.Event{Type: llm.EventThinkingDelta, Text: *reasoning})
	}
	if d.Content != nil && *d.Content != "" {
		s.emit(llm.Event{Type: llm.EventTextDelta, Text: *d.Content})
	}
	if d.Refusal != nil && *d.Refusal != "" {
		s.emit(llm.Event{Type: llm.EventTextDelta, Text: *d.Refusal})
	}
	for i := range d.ToolCalls {
		if err := s.toolCall(&d.ToolCalls[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *streamReader) toolCall(tc *ToolCall) error {
	idx := s.lastCall
	switch {
	case tc.Index != nil:
		idx = *tc.Index
	case len(s.calls) == 0:
		idx = 0
	case tc.ID != "" && s.calls[s.lastCall] != nil && s.calls[s.lastCall].id != tc.ID:
		// No index (Gemini's compatibility layer): a new id is a new call.
		idx = len(s.calls)
	}
	if idx < 0 || idx >= maxToolCalls {
		return upstreamErr("upstream sent an out-of-range tool call index", fmt.Errorf("tool call index %d", idx))
	}
	s.lastCall = idx
	s.sawToolCalls = true
	c, ok := s.calls[idx]
	if !ok {
		c = &toolCallState{}
		s.calls[idx] = c
	}
	if c.id == "" {
		c.id = tc.ID
	}
	args := tc.Function.Arguments
	if !c.started {
		if tc.Function.Name == "" {
			// The name has not arrived yet: hold the fragment, bounded by the SSE line limit.
			if s.pending+len(args) > sse.MaxLine {
				return upstreamErr("upstream tool call arguments too long without a name", nil)
			}
			s.pending += len(args)
			c.pending.WriteString(args)
			return nil
		}
		c.name, c.started = tc.Function.Name, true
		s.emit(llm.Event{Type: llm.EventToolCallStart, Index: idx, ID: c.id, Name: c.name})
		if c.pending.Len() > 0 {
			s.pending -= c.pending.Len()
			args = c.pending.String() + args
			c.pending.Reset()
		}
	}
	if args != "" {
		s.emit(llm.Event{Type: llm.EventToolArgsDelta, Index: idx, Text: args})
	}
	return nil
}

// inBandError turns data: {"error": …} (or vLLM's {"object":"error", …})
// into a classified *llm.Error.
func inBandError(data []byte) *llm.Error {
	status := 500
	code, typ := gjson.GetBytes(data, "error.code"), gjson.GetBytes(data, "error.type")
	if !gjson.GetBytes(data, "error").IsObject() {
		code, typ = gjson.GetBytes(data, "code"), gjson.GetBytes(data, "type")
	}
	if n := code.Int(); code.Type == gjson.Number && n >= 400 && n < 600 {
		status = int(n)
	} else if k := inBandStatus(code.String() + " " + typ.String()); k != 0 {
		status = k
	}
	e := Codec{}.DecodeError(status, nil, bytes.Clone(data))
	e.Status = 0 // the stream's own status was 200
	return e
}

// inBandStatus guesses a status from an in-band error's code or type words.
func inBandStatus(s string) int {
	s = strings.ToLower(s)
	switch {
	case containsAny(s, contextWords), containsAny(s, policyWords), strings.Contains(s, "invalid_request"),
		strings.Contains(s, "badrequest"):
		return 400
	case strings.Contains(s, "rate_limit"):
		return 429
	case strings.Contains(s, "overloaded"):
		return 529
	case strings.Contains(s, "timeout"):
		return 408
	}
	return 0
}
