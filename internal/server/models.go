package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/tokens"
)

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Anthropic's list shape, so one answer serves both SDKs.
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

type modelList struct {
	Object  string       `json:"object"`
	Data    []modelEntry `json:"data"`
	HasMore bool         `json:"has_more"`
	FirstID *string      `json:"first_id"`
	LastID  *string      `json:"last_id"`
}

func (s *Server) modelEntries() []modelEntry {
	var out []modelEntry
	for _, name := range s.router.Names() {
		if strings.Contains(name, "*") {
			continue
		}
		out = append(out, modelEntry{ID: name, Object: "model", Created: s.started.Unix(), OwnedBy: "switchyard",
			Type: "model", DisplayName: name, CreatedAt: s.started.UTC().Format(time.RFC3339)})
	}
	return out
}

// handleModels lists the model names clients may use, in both the OpenAI and
// the Anthropic list shape. ?limit is honoured.
func (s *Server) handleModels(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	entries := s.modelEntries()
	list := modelList{Object: "list", Data: entries}
	if l := r.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return &llm.Error{Kind: llm.KindInvalidRequest, Param: "limit", Message: "limit must be a non-negative integer"}
		}
		if n < len(list.Data) {
			list.Data, list.HasMore = list.Data[:n], true
		}
	}
	if list.Data == nil {
		list.Data = []modelEntry{}
	}
	if len(list.Data) > 0 {
		list.FirstID, list.LastID = &list.Data[0].ID, &list.Data[len(list.Data)-1].ID
	}
	return writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleModel(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	id := r.Path[strings.Index(r.Path, "/models/")+len("/models/"):]
	for _, e := range s.modelEntries() {
		if e.ID == id {
			return writeJSON(w, http.StatusOK, e)
		}
	}
	if _, err := s.router.Resolve(id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, modelEntry{ID: id, Object: "model", Created: s.started.Unix(), OwnedBy: "switchyard",
		Type: "model", DisplayName: id, CreatedAt: s.started.UTC().Format(time.RFC3339)})
}

func writeJSON(w *httpd.Response, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().SetContentType("application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

func (s *Server) handleLiveness(w *httpd.Response, _ *httpd.Request, _ *reqInfo) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "I'm alive!"})
}

// handleReadiness is unauthenticated: load balancers and orchestrators call it.
func (s *Server) handleReadiness(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	out := map[string]any{"status": "healthy", "uptime_seconds": int64(time.Since(s.started).Seconds())}
	status := http.StatusOK
	if s.draining.Load() {
		out["status"], status = "shutting down", http.StatusServiceUnavailable
	} else if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			out["status"], out["reason"] = "degraded", err.Error()
		}
	}
	return writeJSON(w, status, out)
}

type endpointHealth struct {
	Model   string `json:"model"`
	ID      string `json:"model_id"`
	APIBase string `json:"api_base"`
	Error   string `json:"error,omitempty"`
}

// handleHealth probes every deployment with a cheap call and reports which
// answer. Deployments sharing an endpoint are probed once.
func (s *Server) handleHealth(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	type probe struct {
		once sync.Once
		err  error
	}
	probes := map[string]*probe{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var healthy, unhealthy []endpointHealth
	sem := make(chan struct{}, 16)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	for _, g := range s.router.Groups() {
		for _, d := range g.Deployments {
			if d.Dialect() == "" {
				continue // a bare model "*": its provider is chosen per request
			}
			key := string(d.Dialect()) + " " + d.Upstream.BaseURL + " " + d.Upstream.APIKey
			p := probes[key]
			if p == nil {
				p = &probe{}
				probes[key] = p
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.once.Do(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					p.err = d.Upstream.Probe(ctx)
				})
				e := endpointHealth{Model: d.Cfg.ModelName, ID: d.ID(), APIBase: d.Cfg.APIBase}
				mu.Lock()
				defer mu.Unlock()
				if p.err != nil {
					e.Error = llm.AsError(p.err).Message
					unhealthy = append(unhealthy, e)
				} else {
					healthy = append(healthy, e)
				}
			}()
		}
	}
	wg.Wait()
	if healthy == nil {
		healthy = []endpointHealth{}
	}
	if unhealthy == nil {
		unhealthy = []endpointHealth{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy,
		"healthy_count": len(healthy), "unhealthy_count": len(unhealthy),
	})
}

// handleCountTokens answers Anthropic's count_tokens: forwarded to an
// Anthropic deployment of the group when there is one, else estimated with
// our tokenizer over system, messages and tools.
func (s *Server) handleCountTokens(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	if m := gjson.GetBytes(body, "model"); m.Type == gjson.String {
		if rt, err := s.router.Resolve(m.Str); err == nil {
			for _, d := range rt.Group.Deployments {
				if d.Dialect() != llm.DialectAnthropic {
					continue
				}
				c := &call{s: s, w: w, r: r, client: llm.DialectAnthropic}
				b, err := setModel(body, d.UpstreamModel(rt.Star))
				if err != nil {
					break
				}
				resp, err := c.send(r.Context(), d, provider.EndpointCountTokens, b)
				if err != nil {
					break
				}
				defer resp.Body.Close()
				out := struct {
					InputTokens int `json:"input_tokens"`
				}{}
				if json.NewDecoder(resp.Body).Decode(&out) == nil {
					return writeJSON(w, http.StatusOK, out)
				}
				break
			}
		}
	}
	req, err := s.clients[llm.DialectAnthropic].DecodeRequest(body)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"input_tokens": tokens.CountRequest(req)})
}
