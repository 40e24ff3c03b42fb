package spend

import (
	"context"
	"log/slog"
	"time"
)

// RunRetention deletes the records older than period now and then every
// `every` (an hour when 0) until ctx is done. Deletion is DeleteBefore's:
// bounded batches, no rows loaded into memory. A period ≤ 0 keeps
// everything and returns at once.
func RunRetention(ctx context.Context, s Store, period, every time.Duration) {
	if period <= 0 {
		return
	}
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cutoff := time.Now().Add(-period)
		n, err := s.DeleteBefore(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			slog.Warn("spend log retention", "err", err, "deleted", n)
		case n > 0:
			slog.Info("spend log retention", "deleted", n, "before", cutoff.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
