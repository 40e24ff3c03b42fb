package tokens

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/llm"
)

func TestEstimate(t *testing.T) {
	tests := []struct {
		text     string
		min, max int
	}{
		{"", 0, 0},
		{"hello", 1, 1},
		{"Hello, world!", 3, 5},
		{"The quick brown fox jumps over the lazy dog.", 9, 11},
		{`{"type":"object","properties":{"command":{"type":"string"}}}`, 12, 20},
		{"1234567890", 3, 4},
		{"\n\t\tif err != nil {\n\t\t\treturn err\n\t\t}\n", 9, 14},
		{"日本語のテキスト", 7, 9},
		{"Größenänderung", 3, 8},
		{strings.Repeat("a", 600), 90, 110},
	}
	for _, tc := range tests {
		if got := Estimate(tc.text); got < tc.min || got > tc.max {
			t.Errorf("Estimate(%q) = %d, want %d..%d", tc.text, got, tc.min, tc.max)
		}
	}
}

func decodeFixture(tb testing.TB, name string) (*llm.Request, int) {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join("../../testdata/claude-code", name+".request.json"))
	if err != nil {
		tb.Fatal(err)
	}
	req, err := anthropic.Codec{}.DecodeRequest(body)
	if err != nil {
		tb.Fatal(err)
	}
	return req, len(body)
}

// TestCountRequestFixtures pins CountRequest on the fixtures. Their texts are
// NATO-alphabet filler, so the numbers sit below the capture server's len/4
// figures (9599 for 08, 19078 for a body like 01); see the package comment.
func TestCountRequestFixtures(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
	}{
		{"08_count_tokens", 9599 * 85 / 100, 9599 * 110 / 100},
		{"01_plain_prompt_default_model", 19078 * 80 / 100, 19078 * 110 / 100},
	}
	for _, tc := range tests {
		req, _ := decodeFixture(t, tc.name)
		got := CountRequest(req)
		t.Logf("%s: CountRequest = %d", tc.name, got)
		if got < tc.min || got > tc.max {
			t.Errorf("%s: CountRequest = %d, want %d..%d", tc.name, got, tc.min, tc.max)
		}
	}
	if CountRequest(nil) != 0 {
		t.Error("nil request")
	}
	img := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartImage, URL: "u"},
		{Type: llm.PartToolResult, Content: []llm.Part{{Type: llm.PartText, Text: "result text"}}}}}}}
	if got := CountRequest(img); got < ImageTokens+2 {
		t.Errorf("image request = %d", got)
	}
}

func BenchmarkCountRequest(b *testing.B) {
	req, size := decodeFixture(b, "01_plain_prompt_default_model")
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		CountRequest(req)
	}
}

func BenchmarkEstimate(b *testing.B) {
	body, err := os.ReadFile("../../testdata/claude-code/01_plain_prompt_default_model.request.json")
	if err != nil {
		b.Fatal(err)
	}
	text := string(body)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Estimate(text)
	}
}
