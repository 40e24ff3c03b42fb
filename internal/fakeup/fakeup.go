// Package fakeup runs fake upstream servers for tests and benchmarks. Each
// speaks one vendor's documented wire format (OpenAI chat completions SSE,
// Anthropic Messages SSE with event lines, Ollama NDJSON) and can inject
// faults: an error status, a hang, a reset before or after the first byte.
package fakeup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Dialect of a fake upstream.
type Dialect string

// Dialects.
const (
	OpenAI    Dialect = "openai"
	Anthropic Dialect = "anthropic"
	Ollama    Dialect = "ollama"
)

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Request) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Reply scripts one answer. The zero Reply is the dialect's default answer.
type Reply struct {
	// Status, when not 0 or 200, answers with this status and ErrorBody.
	Status    int
	ErrorBody string
	Header    map[string]string
	// Text is the answer text (default "Hello from the fake upstream.").
	Text string
	// ToolCall, when set, answers with a call of this tool with these JSON arguments.
	ToolCall     string
	ToolArgs     string
	Thinking     string
	FinishReason string
	// Chunks splits the text into this many stream events (default 3).
	Chunks int
	// Delay before the headers; EventDelay between stream events.
	Delay      time.Duration
	EventDelay time.Duration
	// Hang never answers (until the client goes away).
	Hang bool
	// ResetBeforeBody closes the connection right after reading the request.
	ResetBeforeBody bool
	// ResetAfterEvents closes the connection after this many stream events (0: never).
	ResetAfterEvents int
	// NoUsage leaves usage out.
	NoUsage bool
	// HoldAfterEnd keeps a stream's body open this long after its last
	// event ([DONE], message_stop) before ending it.
	HoldAfterEnd time.Duration
	// Raw, when set, is written as the whole body with status 200.
	Raw string
	// InputTokens and OutputTokens reported (default 11 and 7).
	InputTokens, OutputTokens int
}

// Server is a fake upstream.
type Server struct {
	*httptest.Server
	Dialect Dialect
	// Script picks the reply for the n-th chat request (from 0); nil gives defaults.
	Script func(n int, r Request) Reply
	// Models are listed by the models endpoint.
	Models []string

	mu       sync.Mutex
	requests []Request
	chats    int
}

// New starts a fake upstream of dialect d.
func New(d Dialect) *Server {
	s := &Server{Dialect: d, Models: []string{"fake-model"}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ChatCount is the number of chat requests received.
func (s *Server) ChatCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chats
}

// Last is the last request received.
func (s *Server) Last() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return Request{}
	}
	return s.requests[len(s.requests)-1]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	isChat := strings.HasSuffix(r.URL.Path, "/chat/completions") || strings.HasSuffix(r.URL.Path, "/v1/messages") || r.URL.Path == "/api/chat"
	n := s.chats
	if isChat {
		s.chats++
	}
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/models") || r.URL.Path == "/api/tags"):
		s.serveModels(w, r)
		return
	case r.URL.Path == "/api/generate" && s.Dialect == Ollama:
		_, _ = fmt.Fprintf(w, `{"model":%s,"created_at":"2026-11-25T00:00:00Z","response":"","done":true,"done_reason":"load"}`, js(req.JSON()["model"]))
		return
	case r.URL.Path == "/api/show":
		_, _ = io.WriteString(w, `{"model_info":{"general.architecture":"llama","llama.context_length":131072},"parameters":""}`)
		return
	case strings.HasSuffix(r.URL.Path, "/embeddings") && s.Dialect == OpenAI:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"model":%s,"usage":{"prompt_tokens":5,"total_tokens":5}}`, js(req.JSON()["model"]))
		return
	case r.URL.Path == "/api/embed" && s.Dialect == Ollama:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"model":%s,"embeddings":[[0.1,0.2,0.3],[0.4,0.5,0.6]],"prompt_eval_count":6}`, js(req.JSON()["model"]))
		return
	case strings.HasSuffix(r.URL.Path, "/count_tokens"):
		_, _ = io.WriteString(w, `{"input_tokens":42}`)
		return
	case !isChat:
		http.NotFound(w, r)
		return
	}
	var rep Reply
	if s.Script != nil {
		rep = s.Script(n, req)
	}
	s.answer(w, r, req, rep)
}

func (s *Server) serveModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	var b bytes.Buffer
	if s.Dialect == Ollama {
		b.WriteString(`{"models":[`)
		for i, m := range s.Models {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":%q,"model":%q,"size":1}`, m, m)
		}
		b.WriteString(`]}`)
	} else {
		b.WriteString(`{"object":"list","data":[`)
		for i, m := range s.Models {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%q,"object":"model","type":"model","created":0,"owned_by":"fake"}`, m)
		}
		b.WriteString(`]}`)
	}
	_, _ = w.Write(b.Bytes())
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, req Request, rep Reply) {
	if rep.ResetBeforeBody {
		reset(w)
		return
	}
	if rep.Hang {
		<-r.Context().Done()
		return
	}
	if rep.Delay > 0 {
		select {
		case <-time.After(rep.Delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if rep.Status != 0 && rep.Status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.Status)
		body := rep.ErrorBody
		if body == "" {
			body = s.errorBody(rep.Status)
		}
		_, _ = io.WriteString(w, body)
		return
	}
	if rep.Raw != "" {
		_, _ = io.WriteString(w, rep.Raw)
		return
	}
	if rep.Text == "" && rep.ToolCall == "" {
		rep.Text = "Hello from the fake upstream."
	}
	if rep.Chunks <= 0 {
		rep.Chunks = 3
	}
	if rep.InputTokens == 0 {
		rep.InputTokens = 11
	}
	if rep.OutputTokens == 0 {
		rep.OutputTokens = 7
	}
	var m map[string]any
	_ = json.Unmarshal(req.Body, &m)
	model, _ := m["model"].(string)
	stream, _ := m["stream"].(bool)
	if s.Dialect == Ollama {
		if v, ok := m["stream"].(bool); ok {
			stream = v
		} else {
			stream = true
		}
	}
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.message(model, rep))
		return
	}
	includeUsage := false
	if so, ok := m["stream_options"].(map[string]any); ok {
		includeUsage, _ = so["include_usage"].(bool)
	}
	events := s.events(model, rep, includeUsage)
	if s.Dialect == Ollama {
		w.Header().Set("Content-Type", "application/x-ndjson")
	} else {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	w.WriteHeader(http.StatusOK)
	fl := http.NewResponseController(w)
	for i, ev := range events {
		if rep.ResetAfterEvents > 0 && i == rep.ResetAfterEvents {
			_ = fl.Flush()
			reset(w)
			return
		}
		if i > 0 && rep.EventDelay > 0 {
			select {
			case <-time.After(rep.EventDelay):
			case <-r.Context().Done():
				return
			}
		}
		if _, err := io.WriteString(w, ev); err != nil {
			return
		}
		_ = fl.Flush()
	}
	if rep.HoldAfterEnd > 0 {
		select {
		case <-time.After(rep.HoldAfterEnd):
		case <-r.Context().Done():
		}
	}
}

// reset closes the connection abruptly.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func (s *Server) errorBody(status int) string {
	switch s.Dialect {
	case Anthropic:
		typ := map[int]string{400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
			429: "rate_limit_error", 529: "overloaded_error"}[status]
		if typ == "" {
			typ = "api_error"
		}
		return fmt.Sprintf(`{"type":"error","error":{"type":%q,"message":"fake upstream says %d"}}`, typ, status)
	case Ollama:
		return fmt.Sprintf(`{"error":"fake upstream says %d"}`, status)
	}
	typ := map[int]string{400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded"}[status]
	if typ == "" {
		typ = "server_error"
	}
	return fmt.Sprintf(`{"error":{"message":"fake upstream says %d","type":%q,"param":null,"code":null}}`, status, typ)
}

// split cuts text into n pieces (fewer when it is short).
func split(text string, n int) []string {
	if text == "" {
		return nil
	}
	if n > len(text) {
		n = len(text)
	}
	var out []string
	step := (len(text) + n - 1) / n
	for i := 0; i < len(text); i += step {
		j := min(i+step, len(text))
		out = append(out, text[i:j])
	}
	return out
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
