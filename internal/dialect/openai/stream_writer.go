package openai

import (
	"bytes"
	"fmt"
	"io"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/tidwall/gjson"
)

// NewStreamWriter renders hub events as chat.completion.chunk events for an
// OpenAI client. The usage chunk is written only when the client asked for it
// with stream_options.include_usage.
func (Codec) NewStreamWriter(w io.Writer, req *llm.Request) llm.StreamWriter {
	sw := &streamWriter{w: w, created: nowUnix(), calls: make(map[int]int)}
	if req != nil {
		sw.model = req.Model
		if so, ok := req.Extra["stream_options"]; ok {
			sw.includeUsage = gjson.GetBytes(so, "include_usage").Bool()
		}
	}
	return sw
}

type streamWriter struct {
	w            io.Writer
	buf          bytes.Buffer
	id           string
	model        string
	created      int64
	includeUsage bool

	started bool
	done    bool
	// calls maps the hub's tool-call Index to the client's 0..n index.
	calls map[int]int
	usage llm.Usage
}

func (s *streamWriter) chunk(delta ChunkDelta, finish *string) {
	c := ChatCompletionChunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []ChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}},
	}
	data, _ := marshal(c)
	sse.AppendEvent(&s.buf, "", data)
}

// start writes the first chunk (role "assistant") once.
func (s *streamWriter) start(id string) {
	if s.started {
		return
	}
	s.started = true
	if s.id = id; s.id == "" {
		s.id = newCompletionID()
	}
	empty := ""
	s.chunk(ChunkDelta{Role: "assistant", Content: &empty}, nil)
}

func (s *streamWriter) flush() error {
	if s.buf.Len() == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	return err
}

func (s *streamWriter) Write(ev llm.Event) error {
	if s.done {
		return nil
	}
	if ev.Type == llm.EventError {
		return s.Fail(llm.AsError(ev.Err))
	}
	if ev.Type == llm.EventStart {
		s.start(ev.ID)
	} else {
		s.start("") // a stream without Start still opens with the role chunk
	}
	switch ev.Type {
	case llm.EventStart:
		if ev.Usage != nil {
			s.usage.Merge(*ev.Usage)
		}
	case llm.EventTextDelta:
		if ev.Text != "" {
			t := ev.Text
			s.chunk(ChunkDelta{Content: &t}, nil)
		}
	case llm.EventThinkingDelta:
		if ev.Text != "" {
			t := ev.Text
			s.chunk(ChunkDelta{ReasoningContent: &t}, nil)
		}
	case llm.EventSignatureDelta:
		// OpenAI clients have no place for thinking signatures.
	case llm.EventToolCallStart:
		if _, ok := s.calls[ev.Index]; ok {
			return s.Fail(&llm.Error{Kind: llm.KindUpstream, Message: "upstream reopened a tool call",
				Err: fmt.Errorf("tool call index %d started twice", ev.Index)})
		}
		n := len(s.calls)
		s.calls[ev.Index] = n
		id := ev.ID
		if id == "" {
			id = newCallID()
		}
		s.chunk(ChunkDelta{ToolCalls: []ToolCall{{Index: &n, ID: id, Type: "function",
			Function: FunctionCall{Name: ev.Name}}}}, nil)
	case llm.EventToolArgsDelta:
		n, ok := s.calls[ev.Index]
		if !ok {
			return s.Fail(&llm.Error{Kind: llm.KindUpstream, Message: "upstream sent arguments for an unknown tool call",
				Err: fmt.Errorf("tool call index %d not started", ev.Index)})
		}
		if ev.Text != "" {
			s.chunk(ChunkDelta{ToolCalls: []ToolCall{{Index: &n, Function: FunctionCall{Arguments: ev.Text}}}}, nil)
		}
	case llm.EventUsage:
		if ev.Usage != nil {
			s.usage.Merge(*ev.Usage)
		}
	case llm.EventStop:
		if ev.Usage != nil {
			s.usage.Merge(*ev.Usage)
		}
		fr := finishReason(ev.StopReason)
		s.chunk(ChunkDelta{}, &fr)
		if s.includeUsage {
			c := ChatCompletionChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
				Choices: []ChunkChoice{}, Usage: wireUsage(s.usage)}
			data, _ := marshal(c)
			sse.AppendEvent(&s.buf, "", data)
		}
		sse.AppendEvent(&s.buf, "", []byte("[DONE]"))
		s.done = true
	}
	return s.flush()
}

func (s *streamWriter) Ping() error {
	if s.done {
		return nil
	}
	return sse.WriteComment(s.w, "ping")
}

// Fail writes the error as a data event and ends the stream without [DONE],
// so a client cannot mistake the reply for a complete one.
func (s *streamWriter) Fail(err *llm.Error) error {
	if s.done {
		return nil
	}
	s.done = true
	sse.AppendEvent(&s.buf, "", Codec{}.EncodeError(err))
	return s.flush()
}
