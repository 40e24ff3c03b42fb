package spend

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenBackground(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	t.Run("a path that cannot hold a file fails at once", func(t *testing.T) {
		if _, err := OpenBackground("sqlite:///"+filepath.Join(t.TempDir(), "no", "such", "dir", "spend.db"), log); err == nil {
			t.Fatal("opened a store in a directory that does not exist")
		}
	})
	t.Run("records go through a store opened in the background", func(t *testing.T) {
		dir := t.TempDir()
		s, err := OpenBackground("sqlite:///"+filepath.Join(dir, "spend.db"), log)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		w, err := NewWriter(s, filepath.Join(dir, "journal"), fastOpts())
		if err != nil {
			t.Fatal(err)
		}
		recs := genRecords(20)
		for _, r := range recs {
			w.RecordDurable(r)
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Query(ctx, Filter{Limit: 100})
		if err != nil || len(got) != len(recs) {
			t.Fatalf("%d records, err %v; want %d", len(got), err, len(recs))
		}
	})
	t.Run("a failed open is tried again", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "spend.db")
		if err := os.WriteFile(path, []byte("this is not a SQLite database, and it is long enough to be read as one"), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenBackground("sqlite:///"+path, log)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Ping(ctx); err == nil {
			t.Fatal("a file that is no database opened")
		}
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.Ping(ctx) != nil {
			if time.Now().After(deadline) {
				t.Fatal("the store never opened once the file was fixed")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("a wait ends with its context", func(t *testing.T) {
		b := &backgroundStore{done: make(chan struct{})} // an open that never ends
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := b.Ping(cctx); err != context.DeadlineExceeded {
			t.Fatalf("Ping = %v, want the context's deadline", err)
		}
	})
}
