package record

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 2000; i++ {
		if i%500 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
		before := time.Now().UnixMilli()
		id := NewID("req_")
		after := time.Now().UnixMilli()
		hx, ok := strings.CutPrefix(id, "req_")
		if !ok || len(hx) != 32 {
			t.Fatalf("NewID = %q, want req_ and 32 hex digits", id)
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatalf("NewID = %q: %v", id, err)
		}
		var ms int64
		for _, c := range b[:6] {
			ms = ms<<8 | int64(c)
		}
		if ms < before || ms > after {
			t.Fatalf("NewID = %q: time %d, want in [%d, %d]", id, ms, before, after)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		// Ids of different milliseconds sort by time.
		if prev != "" && prev[:4+12] != id[:4+12] && prev > id {
			t.Fatalf("NewID %q sorts before the earlier %q", id, prev)
		}
		prev = id
	}
}
