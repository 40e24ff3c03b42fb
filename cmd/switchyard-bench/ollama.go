package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/load"
)

// The ollama scenario streams tokens from a real Ollama (docs/ollama.md)
// directly and through Switchyard, one request at a time, interleaved per
// request, and reports the added time to first token and the tokens/s
// ratio.
const (
	scOllama    = "ollama"
	ollamaModel = "tiny-endless"

	// Targets of the ollama scenario.
	tgOllamaDirect = "direct"              // Ollama's /v1/chat/completions
	tgOllamaNative = "switchyard-ollama"   // ollama_chat/ → /api/chat, translated
	tgOllamaOpenAI = "switchyard-openai"   // openai/ at api_base/v1, pass-through
	ollamaNative   = "bench-ollama-native" // model groups in the gateway config
	ollamaOpenAI   = "bench-ollama-openai"
)

// ollamaTarget is one target's requests.
type ollamaTarget struct {
	Target      string    `json:"target"`
	Description string    `json:"description"`
	Requests    int       `json:"requests"`
	Errors      int       `json:"errors"`
	FirstError  string    `json:"first_error,omitempty"`
	TTFTms      []float64 `json:"ttft_ms"`
	TokPerS     []float64 `json:"tokens_per_s"`
	Chunks      []int     `json:"content_chunks"`
	TotalMs     []float64 `json:"total_ms"`

	MedianTTFTms  float64 `json:"median_ttft_ms"`
	MedianTokPerS float64 `json:"median_tokens_per_s"`
	MedianChunks  float64 `json:"median_content_chunks"`
	MedianTotalMs float64 `json:"median_total_ms"`
	// AddedTTFTms is MedianTTFTms minus the direct target's; TokRatio is
	// MedianTokPerS over the direct target's.
	AddedTTFTms float64 `json:"added_ttft_ms,omitempty"`
	TokRatio    float64 `json:"tokens_per_s_x_direct,omitempty"`
}

// ollamaResult is the ollama scenario in the result file.
type ollamaResult struct {
	URL       string          `json:"url"`
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	Requests  int             `json:"requests_per_target"`
	Targets   []*ollamaTarget `json:"targets"`
}

// ollamaProbe reports whether the Ollama at base answers /api/tags with
// the tiny-endless model. base must be a loopback http URL.
func ollamaProbe(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-ollama-url %q: want http://HOST:PORT", base)
	}
	if err := load.CheckLoopback(u.Host); err != nil {
		return fmt.Errorf("-ollama-url %q: %w", base, err)
	}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get(strings.TrimRight(base, "/") + "/api/tags")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/api/tags: HTTP %d", resp.StatusCode)
	}
	for _, n := range gjson.GetBytes(b, "models.#.name").Array() {
		if s := n.String(); s == ollamaModel || s == ollamaModel+":latest" {
			return nil
		}
	}
	return fmt.Errorf("/api/tags has no %s model (bash scripts/ollama.sh up imports it)", ollamaModel)
}

// ollamaGatewayConfig routes the two model groups to the Ollama at base:
// natively (translated) and through its OpenAI-compatible API.
func ollamaGatewayConfig(base, db string) string {
	base = strings.TrimRight(base, "/")
	var b strings.Builder
	b.WriteString("model_list:\n")
	fmt.Fprintf(&b, "  - model_name: %s\n    litellm_params:\n      model: ollama_chat/%s\n      api_base: %s\n", ollamaNative, ollamaModel, base)
	fmt.Fprintf(&b, "  - model_name: %s\n    litellm_params:\n      model: openai/%s\n      api_base: %s/v1\n      api_key: ollama\n", ollamaOpenAI, ollamaModel, base)
	fmt.Fprintf(&b, "litellm_settings:\n  callbacks: [\"prometheus\"]\n")
	fmt.Fprintf(&b, "general_settings:\n  master_key: %s\n  database_url: \"sqlite:///%s\"\n", masterKey, db)
	return b.String()
}

// ollamaEndpoint is where one target's requests go.
type ollamaEndpoint struct {
	url, model, key string
	client          *http.Client
}

// runOllama measures the ollama scenario. It returns nil, nil when the
// scenario is not run (a skip line is printed).
func (e *env) runOllama() (*ollamaResult, error) {
	o := e.o
	base := strings.TrimRight(o.ollamaURL, "/")
	if base == "" {
		fmt.Fprintf(e.out, "ollama: skipped (-ollama-url is empty)\n")
		return nil, nil
	}
	if err := ollamaProbe(base); err != nil {
		fmt.Fprintf(e.out, "ollama: skipped — no usable Ollama at %s: %v (start one with: bash scripts/ollama.sh up)\n", base, err)
		return nil, nil
	}
	res := &ollamaResult{URL: base, Model: ollamaModel, MaxTokens: o.ollamaMaxTokens, Requests: o.ollamaRequests}
	newClient := func() *http.Client {
		// One connection per target, kept alive; no proxy.
		return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
	}
	eps := map[string]ollamaEndpoint{
		tgOllamaDirect: {url: base + "/v1/chat/completions", model: ollamaModel, client: newClient()},
	}
	res.Targets = append(res.Targets, &ollamaTarget{Target: tgOllamaDirect, Description: "OpenAI client → Ollama /v1/chat/completions"})
	if slices.Contains(o.targets, tgSwitchyard) {
		p, addr, err := e.startSwitchyard("switchyard-ollama", e.bin, ollamaGatewayConfig(base, filepath.Join(e.dir, "spend-ollama.db")))
		if err != nil {
			return nil, fmt.Errorf("ollama: %w", err)
		}
		defer p.stop()
		gw := "http://" + addr + "/v1/chat/completions"
		eps[tgOllamaNative] = ollamaEndpoint{url: gw, model: ollamaNative, key: masterKey, client: newClient()}
		eps[tgOllamaOpenAI] = ollamaEndpoint{url: gw, model: ollamaOpenAI, key: masterKey, client: newClient()}
		res.Targets = append(res.Targets,
			&ollamaTarget{Target: tgOllamaNative, Description: "through Switchyard, ollama_chat/ → Ollama /api/chat (translated)"},
			&ollamaTarget{Target: tgOllamaOpenAI, Description: "through Switchyard, openai/ → Ollama /v1 (pass-through)"})
	}
	names := make([]string, len(res.Targets))
	for i, t := range res.Targets {
		names[i] = t.Target
	}
	fmt.Fprintf(e.out, "ollama: %d streaming requests per target (%s, max_tokens %d) at %s, 1 connection, interleaved\n",
		o.ollamaRequests, ollamaModel, o.ollamaMaxTokens, base)
	// Warm-up: the model is loaded and every connection is open.
	for i := 0; i < 2; i++ {
		for _, n := range names {
			if m := ollamaStream(eps[n], o.ollamaMaxTokens); m.err != nil {
				return nil, fmt.Errorf("ollama warm-up %s: %w", n, m.err)
			}
		}
	}
	for i := 0; i < o.ollamaRequests; i++ {
		for _, n := range rotate(names, i) {
			t := res.Targets[slices.Index(names, n)]
			m := ollamaStream(eps[n], o.ollamaMaxTokens)
			t.Requests++
			if m.err != nil {
				t.Errors++
				if t.FirstError == "" {
					t.FirstError = m.err.Error()
				}
				continue
			}
			t.TTFTms = append(t.TTFTms, ms(m.ttft))
			t.TotalMs = append(t.TotalMs, ms(m.total))
			t.Chunks = append(t.Chunks, m.chunks)
			t.TokPerS = append(t.TokPerS, m.tokPerS)
		}
	}
	var direct *ollamaTarget
	for _, t := range res.Targets {
		ch := make([]float64, len(t.Chunks))
		for i, c := range t.Chunks {
			ch[i] = float64(c)
		}
		t.MedianTTFTms, t.MedianTokPerS = round2(median(t.TTFTms)), round2(median(t.TokPerS))
		t.MedianChunks, t.MedianTotalMs = median(ch), round2(median(t.TotalMs))
		if t.Target == tgOllamaDirect {
			direct = t
			continue
		}
		if direct != nil && len(direct.TTFTms) > 0 && len(t.TTFTms) > 0 {
			t.AddedTTFTms = round2(t.MedianTTFTms - direct.MedianTTFTms)
			t.TokRatio = ratio(t.MedianTokPerS, direct.MedianTokPerS)
		}
	}
	for _, t := range res.Targets {
		fmt.Fprintf(e.out, "  ollama     %-18s TTFT p50 %7.2f ms  %8.0f tok/s  chunks %3.0f  errors %d\n",
			t.Target, t.MedianTTFTms, t.MedianTokPerS, t.MedianChunks, t.Errors)
		if t.FirstError != "" {
			fmt.Fprintf(e.out, "    first error: %s\n", t.FirstError)
		}
	}
	return res, nil
}

// streamMeasure is one streamed request: time to the first content delta,
// content chunks, and their rate from the first to the last.
type streamMeasure struct {
	ttft, total time.Duration
	chunks      int
	tokPerS     float64
	err         error
}

// ollamaStream sends one streaming chat request and reads the SSE reply.
// A reply is good when it is a 200 that ends with [DONE] and has content.
func ollamaStream(ep ollamaEndpoint, maxTokens int) (m streamMeasure) {
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":"Tell me a long story."}],"max_tokens":%d,"stream":true}`, ep.model, maxTokens)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, strings.NewReader(body))
	if err != nil {
		m.err = err
		return m
	}
	req.Header.Set("Content-Type", "application/json")
	if ep.key != "" {
		req.Header.Set("Authorization", "Bearer "+ep.key)
	}
	t0 := time.Now()
	resp, err := ep.client.Do(req)
	if err != nil {
		m.err = err
		return m
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 400))
		m.err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
		return m
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var first, last time.Time
	done := false
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			done = true
			break
		}
		if !json.Valid(data) {
			m.err = fmt.Errorf("bad event %.200q", data)
			return m
		}
		if e := gjson.GetBytes(data, "error"); e.Exists() {
			m.err = fmt.Errorf("in-band error: %.200s", e.Raw)
			return m
		}
		if gjson.GetBytes(data, "choices.0.delta.content").String() == "" {
			continue
		}
		now := time.Now()
		if m.chunks == 0 {
			first = now
		}
		last = now
		m.chunks++
	}
	m.total = time.Since(t0)
	switch {
	case sc.Err() != nil:
		m.err = sc.Err()
	case !done:
		m.err = errors.New("stream ended without [DONE]")
	case m.chunks == 0:
		m.err = errors.New("no content in the stream")
	}
	if m.err != nil {
		return m
	}
	m.ttft = first.Sub(t0)
	if d := last.Sub(first); m.chunks > 1 && d > 0 {
		// Intervals between content chunks over their time.
		m.tokPerS = float64(m.chunks-1) / d.Seconds()
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// printOllama prints the ollama scenario's table.
func printOllama(w io.Writer, r *ollamaResult) {
	fmt.Fprintf(w, "\n== ollama: streaming chat from the real Ollama at %s (%s, max_tokens %d), %d requests per target, 1 connection, interleaved ==\n",
		r.URL, r.Model, r.MaxTokens, r.Requests)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\tTTFT p50 ms\t+TTFT ms\ttok/s p50\ttok/s ×direct\tchunks p50\ttotal p50 ms\terrors\t")
	for _, t := range r.Targets {
		added, x := "", ""
		if t.Target != tgOllamaDirect {
			added, x = fmt.Sprintf("%+.2f", t.AddedTTFTms), fmt.Sprintf("%.2f×", t.TokRatio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t%.0f\t%s\t%.0f\t%.1f\t%d\t\n",
			t.Target, t.Requests, t.MedianTTFTms, added, t.MedianTokPerS, x, t.MedianChunks, t.MedianTotalMs, t.Errors)
	}
	tw.Flush()
}
