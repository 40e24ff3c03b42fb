package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestScanBodyAndWithModel(t *testing.T) {
	tests := []struct {
		name, body string
		want       bodyInfo
	}{
		{"plain", `{"model":"a","stream":true,"messages":[]}`, bodyInfo{stream: true, numRetries: -1}},
		{"gateway fields", `{"messages":[{"model":"inner"}],"model" : "a","num_retries":2,"fallbacks":["x","y"],"tags":["t1"],"metadata":{"user_id":"u","tags":["t0"]}}`,
			bodyInfo{numRetries: 2, fallbacks: []string{"x", "y"}, gateway: []string{"num_retries", "fallbacks", "tags"}, user: "u", tags: []string{"t0", "t1"}}},
		{"user wins over metadata", `{"model":"a","user":"v","metadata":{"user_id":"u"},"stream_options":{"include_usage":true}}`,
			bodyInfo{numRetries: -1, user: "v", includeUsage: true}},
		{"escaped model", `{"model":"a\"b\\\\c\u00e9","x":1}`, bodyInfo{numRetries: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bi, ok := scanValid([]byte(tc.body), nil, nil)
			if !ok {
				t.Fatal("a valid body was found invalid")
			}
			if bi.stream != tc.want.stream || bi.numRetries != tc.want.numRetries || bi.user != tc.want.user ||
				bi.includeUsage != tc.want.includeUsage || len(bi.fallbacks) != len(tc.want.fallbacks) ||
				len(bi.gateway) != len(tc.want.gateway) || len(bi.tags) != len(tc.want.tags) {
				t.Fatalf("scan %+v, want %+v", bi, tc.want)
			}
			for _, model := range []string{"up/m:7b", `we"ird\` + "\n\x01é"} {
				got := withModel([]byte(tc.body), bi.model, model)
				want, _ := sjson.SetBytes([]byte(tc.body), "model", model)
				sameJSON(t, got, want)
				if bi.streamOptions {
					continue
				}
				// With the usage request the stream pass-through adds.
				got = rewriteBody(make([]byte, 3), []byte(tc.body+"\n "), bi.model, model, `,"stream_options":{"include_usage":true}`)
				want, _ = sjson.SetBytes(want, "stream_options.include_usage", true)
				sameJSON(t, got, want)
			}
		})
	}
}

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
		t.Fatalf("invalid JSON: %s", got)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("rewritten %s, want %s", got, want)
	}
}

func FuzzScanBody(f *testing.F) {
	f.Add(`{"model":"a","stream":true}`)
	f.Add(`{"model":"a\"","fallbacks":["x"],"metadata":{"tags":["t"]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		if !json.Valid([]byte(body)) {
			return
		}
		bi, ok := scanValid([]byte(body), nil, nil)
		if !ok {
			t.Fatalf("valid body %q found invalid", body)
		}
		if bi.model.Type.String() != "String" {
			return
		}
		out := withModel([]byte(body), bi.model, "m")
		if !json.Valid(out) {
			t.Fatalf("withModel made invalid JSON from %q: %q", body, out)
		}
		var v map[string]any
		if json.Unmarshal(out, &v) == nil && v["model"] != "m" {
			t.Fatalf("model not rewritten: %s", out)
		}
		if bi.streamOptions {
			return
		}
		out = rewriteBody(nil, []byte(body), bi.model, "m", `,"stream_options":{"include_usage":true}`)
		v = nil
		if err := json.Unmarshal(out, &v); err != nil {
			if json.Unmarshal([]byte(body), &v) == nil {
				t.Fatalf("rewriteBody made invalid JSON from %q: %q", body, out)
			}
			return // a top level that is no object
		}
		if so, _ := v["stream_options"].(map[string]any); v["model"] != "m" || so["include_usage"] != true {
			t.Fatalf("not rewritten: %s", out)
		}
	})
}

// TestScanValidMembers: the scan hands on every top-level member in order,
// repeated keys too, and marks a large value it knows as its kept copy
// (from the third sighting: kept on the second).
func TestScanValidMembers(t *testing.T) {
	tools := `[{"name":"t","description":"` + strings.Repeat("d", 4000) + `","input_schema":{"type":"object"}}]`
	body := `{"model":"a", "messages":[{"role":"user","content":"x"}],"tools":` + tools + `,"model":"b"}`
	var known llm.KnownValues
	for i := range 4 {
		bi, ok := scanValid([]byte(body), &known, make([]llm.Member, 0, 1))
		if !ok {
			t.Fatal("a valid body was found invalid")
		}
		var keys []string
		for _, m := range bi.members {
			keys = append(keys, m.Key)
		}
		if strings.Join(keys, ",") != "model,messages,tools,model" {
			t.Fatalf("members %v", keys)
		}
		if string(bi.members[1].Val) != `[{"role":"user","content":"x"}]` || string(bi.members[2].Val) != tools || string(bi.members[3].Val) != `"b"` {
			t.Fatalf("member values %+v", bi.members)
		}
		if kept := bi.members[2].Kept; kept != (i >= 2) || bi.members[1].Kept {
			t.Fatalf("sighting %d: tools kept %v", i+1, kept)
		}
	}
}
