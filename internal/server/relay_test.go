package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/router"
)

// splitReader returns its bytes in reads of the given sizes (then the rest).
type splitReader struct {
	b     []byte
	sizes []int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if len(r.sizes) > 0 {
		n = max(1, min(n, r.sizes[0]))
		r.sizes = r.sizes[1:]
	}
	n = copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// relayResult is what a client saw of a relayed stream.
type relayResult struct {
	status int
	body   string
	usage  llm.Usage
	err    error
}

// runRelay relays stream (read in pieces of sizes) to an OpenAI client that
// did not ask for usage, as the pass-through path does.
func runRelay(t testing.TB, s *Server, stream []byte, sizes []int) relayResult {
	rt, err := s.router.Resolve("bench-stream")
	if err != nil {
		t.Fatal(err)
	}
	var res relayResult
	var rec httpd.Recorder
	h := httpd.HandlerFunc(func(w *httpd.Response, r *httpd.Request) {
		info := &reqInfo{client: llm.DialectOpenAI}
		c := &call{s: s, w: w, r: r, client: llm.DialectOpenAI, stream: true, model: "bench-stream",
			info: info, firstByte: func() bool { return false }}
		_, res.err = s.router.Run(context.Background(), router.Request{Route: rt, NumRetries: 0, Stream: true},
			func(ctx context.Context, tr *router.Try) (bool, error) {
				c.try = tr
				return c.relay(ctx, tr.Deployment, &splitReader{b: stream, sizes: sizes}, openai.Codec{}.NewUsageTracker(), true)
			})
		res.usage = info.usage
		if res.err != nil && !w.Started() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	raw := rec.Do(context.Background(), h, http.MethodPost, "/v1/chat/completions", nil)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("response: %v\n%q", err, raw)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("response body: %v\n%q", err, raw)
	}
	res.status, res.body = resp.StatusCode, string(body)
	return res
}

// expectRelay is the reference: the events of stream (split on blank
// lines) a client gets, whether the end marker came, and the bytes after
// the last complete event.
func expectRelay(stream []byte) (kept string, done bool, tail string) {
	var ev, data strings.Builder
	lines, hasData := false, false
	rest := string(stream)
	for {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		line := rest[:i+1]
		rest = rest[i+1:]
		ev.WriteString(line)
		t := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case t == "":
			d := data.String()
			usageOnly := strings.Contains(d, `"usage"`) && isUsageOnlyChunk([]byte(d))
			if lines && !usageOnly {
				kept += ev.String()
			}
			if d == "[DONE]" {
				done = true
			}
			ev.Reset()
			data.Reset()
			lines, hasData = false, false
			continue
		case strings.HasPrefix(t, "data:"):
			v := strings.TrimPrefix(t[len("data:"):], " ")
			if hasData { // as the SSE spec joins data lines
				data.WriteByte('\n')
			}
			data.WriteString(v)
			hasData = true
		}
		lines = true
	}
	return kept, done, ev.String() + rest
}

// checkRelay relays stream on a server of its own (failures cool a
// deployment down) and holds what the client saw to the reference.
func checkRelay(t *testing.T, stream []byte, sizes []int) {
	t.Helper()
	got := runRelay(t, newBenchServer(t), stream, sizes)
	kept, done, tail := expectRelay(stream)
	switch {
	case done && kept != "":
		want := kept
		if strings.TrimSpace(tail) != "" {
			want += tail
		}
		if got.err != nil || got.status != 200 || got.body != want {
			t.Fatalf("reads %v: status %d err %v\n got %q\nwant %q", sizes, got.status, got.err, got.body, want)
		}
	case kept != "":
		// Cut short after the first byte: the kept events, then an in-band error.
		if got.err == nil || got.status != 200 || !strings.HasPrefix(got.body, kept) || !strings.Contains(got.body[len(kept):], "error") {
			t.Fatalf("reads %v: status %d err %v\n got %q\nwant %q + an error event", sizes, got.status, got.err, got.body, kept)
		}
	default:
		// Nothing for the client: the call fails before its first byte.
		if got.err == nil || got.status == 200 {
			t.Fatalf("reads %v: status %d err %v body %q, want a failure before the first byte", sizes, got.status, got.err, got.body)
		}
	}
}

func TestRelayReadSplits(t *testing.T) {
	full := benchOpenAIStream()
	crlf := bytes.ReplaceAll(full, []byte("\n"), []byte("\r\n"))
	multi := []byte(": keep-alive\n\nevent: chunk\ndata: {\"choices\":[{\"index\":0,\n" +
		"data: \"delta\":{\"content\":\"hi\"}}]}\nid: 7\n\n\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n" +
		"data: [DONE]\n\n")
	cut := full[:len(full)-len("data: [DONE]\n\n")]
	for name, stream := range map[string][]byte{
		"lf": full, "crlf": crlf, "multi-line-data-and-comments": multi, "no-end-marker": cut,
		"partial-end": append(bytes.Clone(full), "data: {\"tail"...),
		"nothing":     []byte("\n\n"),
	} {
		t.Run(name, func(t *testing.T) {
			checkRelay(t, stream, nil)                        // one read
			checkRelay(t, stream, []int{1, 1, 1, 1, 1, 1, 1}) // byte by byte at first
			ones := make([]int, len(stream))
			for i := range ones {
				ones[i] = 1
			}
			checkRelay(t, stream, ones)
			rng := rand.New(rand.NewPCG(1, uint64(len(stream))))
			for range 50 {
				checkRelay(t, stream, randomReads(rng, len(stream), 64))
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		got := runRelay(t, newBenchServer(t), full, []int{100, 3, 500})
		if got.usage.InputTokens != 11 || got.usage.OutputTokens != 7 {
			t.Fatalf("usage %+v, want 11 in, 7 out", got.usage)
		}
	})
	t.Run("event-longer-than-the-buffer", func(t *testing.T) {
		big := `data: {"choices":[{"index":0,"delta":{"content":"` + strings.Repeat("x", 100<<10) + `"}}]}` + "\n\n"
		checkRelay(t, append([]byte(big), full...), []int{4000, 4000})
	})
}

// randomReads are read sizes of 1 to most bytes covering n bytes.
func randomReads(rng *rand.Rand, n, most int) []int {
	var sizes []int
	for read := 0; read < n; {
		k := 1 + rng.IntN(most)
		sizes = append(sizes, k)
		read += k
	}
	return sizes
}

// FuzzRelay relays arbitrary upstream bytes, read in arbitrary pieces, and
// holds the client's bytes to the reference.
func FuzzRelay(f *testing.F) {
	f.Add(benchOpenAIStream(), uint64(1))
	f.Add([]byte("data: a\n\ndata: [DONE]\n\n"), uint64(7))
	f.Add([]byte("event: x\r\ndata: {\"usage\":{},\"choices\":[]}\r\n\r\ndata: [DONE]\r\n\r\nrest"), uint64(3))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		if len(stream) > 64<<10 {
			return
		}
		checkRelay(t, stream, randomReads(rand.New(rand.NewPCG(seed, seed>>7)), len(stream), 300))
	})
}
