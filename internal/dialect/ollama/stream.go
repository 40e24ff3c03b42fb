package ollama

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"io"

	"github.com/switchyard/switchyard/internal/llm"
)

// MaxLine is the longest NDJSON line the stream reader accepts. A tool call
// arrives whole in one line, so it must hold the largest arguments.
const MaxLine = 8 << 20

// NewStreamReader reads a streamed /api/chat reply (NDJSON) as hub events:
//
//	first line            → Start (ID empty: Ollama has none; Model)
//	message.thinking      → ThinkingDelta
//	message.content       → TextDelta
//	message.tool_calls[i] → ToolCallStart{Index: running count} + one ToolArgsDelta (whole JSON)
//	done:true             → Usage, then Stop (tool_use if any call was seen, else by done_reason)
//	{"error": "..."}      → *llm.Error, classified like DecodeError
//	EOF before done       → *llm.Error KindUpstream
func (Codec) NewStreamReader(body io.Reader) llm.Stream {
	sr := &streamReader{br: bufio.NewReaderSize(body, 64<<10)}
	if c, ok := body.(io.Closer); ok {
		sr.closer = c
	}
	return sr
}

type streamReader struct {
	br     *bufio.Reader
	closer io.Closer
	line   []byte
	eof    bool // the last line read ended at EOF, not at a newline

	queue   []llm.Event
	started bool
	done    bool
	calls   int
	err     error
}

func (s *streamReader) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

func (s *streamReader) Next() (llm.Event, error) {
	for len(s.queue) == 0 {
		if s.err != nil {
			return llm.Event{}, s.err
		}
		if s.done {
			return llm.Event{}, io.EOF
		}
		s.step()
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = s.queue[:0:0]
	}
	return ev, nil
}

// step reads one line and queues its events, or sets s.err / s.done.
func (s *streamReader) step() {
	line, err := s.readLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.err = &llm.Error{Kind: llm.KindUpstream, Message: "Ollama stream ended before done"}
			return
		}
		var le *llm.Error
		if errors.As(err, &le) {
			s.err = le
			return
		}
		s.err = &llm.Error{Kind: llm.KindUpstream, Message: "reading the Ollama stream", Err: err}
		return
	}
	var c ChatResponse
	if err := json.Unmarshal(line, &c); err != nil {
		msg := "malformed Ollama stream line"
		if s.eof {
			// A last line cut off mid-object: the connection dropped.
			msg = "Ollama stream ended before done"
		}
		s.err = &llm.Error{Kind: llm.KindUpstream, Message: msg, Err: fmt.Errorf("%w: %.200q", err, line)}
		return
	}
	if c.Error != "" {
		s.err = classify(0, c.Error, bytes.Clone(line))
		return
	}
	if !s.started {
		s.started = true
		s.queue = append(s.queue, llm.Event{Type: llm.EventStart, Model: c.Model})
	}
	if c.Message.Thinking != "" {
		s.queue = append(s.queue, llm.Event{Type: llm.EventThinkingDelta, Text: c.Message.Thinking})
	}
	if c.Message.Content != "" {
		s.queue = append(s.queue, llm.Event{Type: llm.EventTextDelta, Text: c.Message.Content})
	}
	for _, tc := range c.Message.ToolCalls {
		i := s.calls
		s.calls++
		s.queue = append(s.queue,
			llm.Event{Type: llm.EventToolCallStart, Index: i, ID: tc.ID, Name: tc.Function.Name},
			llm.Event{Type: llm.EventToolArgsDelta, Index: i, Text: compactArgs(tc.Function.Arguments)})
	}
	if c.Done {
		s.done = true
		u := usageOf(&c)
		if u.InputTokens != 0 || u.OutputTokens != 0 {
			uc := u
			s.queue = append(s.queue, llm.Event{Type: llm.EventUsage, Usage: &uc})
		}
		s.queue = append(s.queue, llm.Event{Type: llm.EventStop, Usage: &u,
			StopReason: stopReason(c.DoneReason, s.calls > 0)})
	}
}

// readLine returns the next non-blank line, without its terminator, valid
// until the next call. Lines are bounded by MaxLine.
func (s *streamReader) readLine() ([]byte, error) {
	for {
		s.line = s.line[:0]
		for {
			chunk, err := s.br.ReadSlice('\n')
			if len(s.line)+len(chunk) > MaxLine+1 {
				return nil, &llm.Error{Kind: llm.KindUpstream,
					Message: fmt.Sprintf("Ollama stream line longer than %d MiB", MaxLine>>20)}
			}
			s.line = append(s.line, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (!errors.Is(err, io.EOF) || len(bytes.TrimSpace(s.line)) == 0) {
				return nil, err
			}
			s.eof = err != nil
			break
		}
		if t := bytes.TrimSpace(s.line); len(t) > 0 {
			return t, nil
		}
	}
}

// UsageTracker reads usage from relayed Ollama bytes: the final done:true
// line (or whole reply) carries prompt_eval_count and eval_count.
type UsageTracker struct {
	u  llm.Usage
	ok bool
}

var _ llm.UsageTracker = (*UsageTracker)(nil)

// NewUsageTracker returns a tracker for one reply.
func (Codec) NewUsageTracker() llm.UsageTracker { return &UsageTracker{} }

// NewUsageTracker returns a tracker for one reply.
func NewUsageTracker() llm.UsageTracker { return &UsageTracker{} }

// ObserveEvent looks at one NDJSON line.
func (t *UsageTracker) ObserveEvent(data []byte) {
	var c struct {
		Done            bool `json:"done"`
		PromptEvalCount int  `json:"prompt_eval_count"`
		EvalCount       int  `json:"eval_count"`
	}
	if json.Unmarshal(data, &c) != nil || !c.Done {
		return
	}
	t.u = llm.Usage{InputTokens: c.PromptEvalCount, OutputTokens: c.EvalCount}
	t.ok = true
}

// ObserveBody looks at a whole reply, one object or NDJSON lines.
func (t *UsageTracker) ObserveBody(body []byte) {
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		if l := bytes.TrimSpace(line); len(l) > 0 {
			t.ObserveEvent(l)
		}
	}
}

// Usage is what the done line said; ok is false before it was seen.
func (t *UsageTracker) Usage() (llm.Usage, bool) { return t.u, t.ok }
