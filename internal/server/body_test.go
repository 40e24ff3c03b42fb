package server

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
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
