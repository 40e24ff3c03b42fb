package server

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestReadAllSized(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	for _, tc := range []struct {
		name     string
		body     string
		declared int64
		limit    int64
	}{
		{"exact", big, int64(len(big)), 1 << 20},
		{"unknown length", big, -1, 1 << 20},
		{"declared over the limit", big, 2 << 20, 1 << 20},
		{"declared short", big, 10, 1 << 20},
		{"declared long", "abc", 1000, 1 << 20},
		{"empty", "", 0, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: the loop must assemble the whole body.
			got, err := readAllSized(iotest.OneByteReader(strings.NewReader(tc.body)), tc.declared, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.body {
				t.Fatalf("read %d bytes, want %d", len(got), len(tc.body))
			}
		})
	}
	if _, err := readAllSized(iotest.ErrReader(io.ErrUnexpectedEOF), 10, 100); err != io.ErrUnexpectedEOF {
		t.Fatalf("a read error must come back, got %v", err)
	}
	got, err := readAllSized(io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(io.ErrClosedPipe)), 10, 100)
	if err != io.ErrClosedPipe || string(got) != "ab" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestNoteOutputEventKeepsStreamedText(t *testing.T) {
	for _, tc := range []struct {
		client llm.Dialect
		events []string
		want   string
	}{
		{llm.DialectOpenAI, []string{
			`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
			`{"choices":[{"index":0,"delta":{"content":"Hel"}}]}`,
			`{"choices":[{"index":0,"delta":{"content":"lo \"x\""}}]}`,
			`{"choices":[],"usage":{"prompt_tokens":1}}`,
		}, `Hello "x"`},
		{llm.DialectAnthropic, []string{
			`{"type":"message_start","message":{"content":[]}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}`,
			`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}`,
		}, "Hi there"},
	} {
		info := &reqInfo{client: tc.client}
		for _, e := range tc.events {
			info.noteOutputEvent([]byte(e))
		}
		if got := info.outText.String(); got != tc.want {
			t.Errorf("%s: kept %q, want %q", tc.client, got, tc.want)
		}
	}
}
