package anthropic

import (
	"bytes"
	json "github.com/goccy/go-json"
	"io"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

type blockKind int

const (
	blockNone blockKind = iota
	blockText
	blockThinking
	blockTool
)

// streamWriter renders hub events as the Anthropic SSE sequence:
// message_start, then per content block content_block_start, deltas and
// content_block_stop, then message_delta and message_stop. It is a small state
// machine with one emit method per wire event; every Write renders into a
// buffer and hands the writer only whole events.
type streamWriter struct {
	w     io.Writer
	model string
	buf   bytes.Buffer

	started bool
	done    bool // message_stop or error written; nothing follows

	open      blockKind // the open block's kind; blockNone when none is open
	openTool  int       // upstream tool index of the open tool block
	nextIndex int       // the next content block index
	// tools maps an upstream tool-call index to its block index, for every
	// tool block this stream opened; closed ones are kept to detect late
	// argument fragments.
	tools    map[int]int
	hasTools bool
	// pending holds tool calls that started while another tool block was
	// open. OpenAI-style upstreams interleave the arguments of parallel
	// calls; Anthropic blocks cannot interleave or reopen, so later calls are
	// held whole and written, in order, when the open block is done.
	pending []*pendingTool

	usage llm.Usage
}

type pendingTool struct {
	index int
	name  string
	args  strings.Builder
}

func (s *streamWriter) findPending(index int) *pendingTool {
	for _, p := range s.pending {
		if p.index == index {
			return p
		}
	}
	return nil
}

// drainPending closes the open block and writes every held tool call.
func (s *streamWriter) drainPending() {
	for _, p := range s.pending {
		s.openToolBlock(p.index, p.name)
		if p.args.Len() > 0 {
			s.emitDelta(s.nextIndex-1, deltaJSON{"input_json_delta", p.args.String()})
		}
	}
	s.pending = s.pending[:0]
}

func (s *streamWriter) openToolBlock(index int, name string) {
	s.tools[index] = s.nextIndex
	s.hasTools = true
	s.emitBlockStart(blockTool, struct {
		Type  string   `json:"type"`
		ID    string   `json:"id"`
		Name  string   `json:"name"`
		Input struct{} `json:"input"`
	}{Type: "tool_use", ID: NewToolUseID(), Name: name})
	s.openTool = index
}

// NewStreamWriter returns a writer of the Anthropic stream for req.
func (Codec) NewStreamWriter(w io.Writer, req *llm.Request) llm.StreamWriter {
	sw := &streamWriter{w: w}
	if req != nil {
		sw.model = req.Model
	}
	return sw
}

func (s *streamWriter) flush() error {
	if s.buf.Len() == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	return err
}

func (s *streamWriter) event(name string, data []byte) {
	sse.AppendEvent(&s.buf, name, data)
}

func mergeUsage(dst *llm.Usage, u *llm.Usage) {
	if u != nil {
		dst.Merge(*u)
	}
}

func (s *streamWriter) emitMessageStart(id string) {
	if !strings.HasPrefix(id, "msg_") {
		id = NewMessageID()
	}
	type startMsg struct {
		ID           string   `json:"id"`
		Type         string   `json:"type"`
		Role         string   `json:"role"`
		Model        string   `json:"model"`
		Content      []string `json:"content"`
		StopReason   *string  `json:"stop_reason"`
		StopSequence *string  `json:"stop_sequence"`
		Usage        Usage    `json:"usage"`
	}
	u := wireUsage(s.usage)
	u.OutputTokens = 1 // what Anthropic sends; message_delta carries the real count
	data, _ := json.Marshal(struct {
		Type    string   `json:"type"`
		Message startMsg `json:"message"`
	}{"message_start", startMsg{ID: id, Type: "message", Role: "assistant", Model: s.model, Content: []string{}, Usage: u}})
	s.event("message_start", data)
	s.started = true
}

func (s *streamWriter) ensureStarted() {
	if !s.started {
		s.emitMessageStart("")
	}
}

func (s *streamWriter) emitBlockStop() {
	if s.open == blockNone {
		return
	}
	s.buf.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":")
	s.buf.WriteString(strconv.Itoa(s.nextIndex - 1))
	s.buf.WriteString("}\n\n")
	s.open = blockNone
}

func (s *streamWriter) emitBlockStart(kind blockKind, block any) {
	s.emitBlockStop()
	data, _ := json.Marshal(struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}{"content_block_start", s.nextIndex, block})
	s.event("content_block_start", data)
	s.open = kind
	s.nextIndex++
}

type deltaText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}
type deltaThinking struct {
	Type     string `json:"type"`
	Thinking string `json:"thinking"`
}
type deltaSignature struct {
	Type      string `json:"type"`
	Signature string `json:"signature"`
}
type deltaJSON struct {
	Type        string `json:"type"`
	PartialJSON string `json:"partial_json"`
}

func (s *streamWriter) emitDelta(index int, delta any) {
	data, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta any    `json:"delta"`
	}{"content_block_delta", index, delta})
	s.event("content_block_delta", data)
}

func (s *streamWriter) openThinking() {
	if s.open != blockThinking {
		s.drainPending()
		s.emitBlockStart(blockThinking, struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{"thinking", "", ""})
	}
}

// Write renders one hub event.
func (s *streamWriter) Write(ev llm.Event) error {
	if s.done {
		return nil
	}
	switch ev.Type {
	case llm.EventStart:
		if s.started {
			break
		}
		mergeUsage(&s.usage, ev.Usage)
		s.emitMessageStart(ev.ID)
	case llm.EventTextDelta:
		if ev.Text == "" {
			break
		}
		s.ensureStarted()
		if s.open != blockText {
			s.drainPending()
			s.emitBlockStart(blockText, deltaText{Type: "text"})
		}
		s.emitDelta(s.nextIndex-1, deltaText{"text_delta", ev.Text})
	case llm.EventThinkingDelta:
		if ev.Text == "" {
			break
		}
		s.ensureStarted()
		s.openThinking()
		s.emitDelta(s.nextIndex-1, deltaThinking{"thinking_delta", ev.Text})
	case llm.EventSignatureDelta:
		if ev.Text == "" {
			break
		}
		s.ensureStarted()
		s.openThinking()
		s.emitDelta(s.nextIndex-1, deltaSignature{"signature_delta", ev.Text})
	case llm.EventToolCallStart:
		s.ensureStarted()
		if s.tools == nil {
			s.tools = make(map[int]int)
		}
		if _, seen := s.tools[ev.Index]; seen || s.findPending(ev.Index) != nil {
			// A repeated start for the same call (some upstreams resend the
			// name); the block is already open or done.
			break
		}
		if s.open == blockTool || len(s.pending) > 0 {
			s.pending = append(s.pending, &pendingTool{index: ev.Index, name: ev.Name})
			break
		}
		s.openToolBlock(ev.Index, ev.Name)
	case llm.EventToolArgsDelta:
		if ev.Text == "" {
			break
		}
		if p := s.findPending(ev.Index); p != nil {
			if p.args.Len()+len(ev.Text) > sse.MaxLine {
				return llm.Errorf(llm.KindUpstream, "upstream sent over %d bytes of arguments for tool call %d", sse.MaxLine, ev.Index)
			}
			p.args.WriteString(ev.Text)
			break
		}
		block, ok := s.tools[ev.Index]
		if !ok {
			return llm.Errorf(llm.KindUpstream, "upstream sent arguments for tool call %d before its start", ev.Index)
		}
		if s.open != blockTool || s.openTool != ev.Index {
			// Anthropic blocks cannot be reopened. Failing makes Claude Code
			// retry without streaming, which is correct; dropping would not be.
			return llm.Errorf(llm.KindUpstream, "upstream interleaved arguments of tool call %d after it was closed", ev.Index)
		}
		s.emitDelta(block, deltaJSON{"input_json_delta", ev.Text})
	case llm.EventUsage:
		mergeUsage(&s.usage, ev.Usage)
		return nil
	case llm.EventStop:
		s.ensureStarted()
		mergeUsage(&s.usage, ev.Usage)
		s.drainPending()
		s.emitBlockStop()
		s.emitMessageEnd(ev)
	case llm.EventError:
		return s.Fail(llm.AsError(ev.Err))
	}
	return s.flush()
}

func (s *streamWriter) emitMessageEnd(ev llm.Event) {
	type delta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	type usage struct {
		InputTokens              int `json:"input_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
		OutputTokens             int `json:"output_tokens"`
	}
	d := delta{StopReason: stopReason(ev.StopReason, s.hasTools)}
	if ev.StopSequence != "" {
		d.StopSequence = strPtr(ev.StopSequence)
	}
	data, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Delta delta  `json:"delta"`
		Usage usage  `json:"usage"`
	}{"message_delta", d, usage(wireUsage(s.usage))})
	s.event("message_delta", data)
	s.buf.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	s.done = true
}

// Ping writes a keep-alive event. It is valid before message_start too: the
// SDKs skip ping events wherever they come.
func (s *streamWriter) Ping() error {
	if s.done {
		return nil
	}
	s.buf.WriteString("event: ping\ndata: {\"type\":\"ping\"}\n\n")
	return s.flush()
}

// Fail writes an in-band error event; nothing follows it. Open blocks are
// left open on purpose: Claude Code treats the error like a 529 and retries,
// falling back to a non-streamed request, instead of keeping a truncated turn.
func (s *streamWriter) Fail(err *llm.Error) error {
	if s.done {
		return nil
	}
	s.done = true
	s.buf.Reset()
	body := Codec{}.EncodeError(err)
	var c bytes.Buffer
	if json.Compact(&c, body) == nil {
		body = c.Bytes()
	}
	s.event("error", body)
	return s.flush()
}
