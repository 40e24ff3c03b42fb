package spend

import (
	"context"
	"fmt"

	"github.com/switchyard/switchyard/internal/record"
)

// journalPos is a place in a journal: a segment and a byte offset in it.
// Positions of one journal only grow.
type journalPos struct {
	seq uint64
	off int64
}

// journalBatch is what the Writer commits: records and the journal
// position after the last one's line.
type journalBatch struct {
	journal string     // the journal's id; "" for a plain Insert
	end     journalPos // after the batch's last line
	forget  string     // an earlier id of the same journal, whose position can go
	recs    []*record.Record
	// legacy: the records come from a journal an earlier version wrote
	// (no positions), which may have committed some of them already.
	legacy bool
}

// positionedStore is a Store that commits a journal's batches together
// with the journal position they end at, in one transaction, and skips a
// batch that ends at or before the position already committed: replaying
// a journal after a crash inserts every record exactly once without a
// unique index on the record id. The Writer reads the committed position
// at start-up and replays from there.
type positionedStore interface {
	Store
	insertBatch(ctx context.Context, b *journalBatch) error
	// committedPos is the position committed for journal (zero if none).
	committedPos(ctx context.Context, journal string) (journalPos, error)
}

// Statements on spend_journal_pos, in "?" form: the upsert changes a row
// only when the batch ends past the committed position, so a zero row
// count means the batch is in already.
const (
	posUpsert = "INSERT INTO spend_journal_pos (journal, seq, off) VALUES (?, ?, ?) " +
		"ON CONFLICT (journal) DO UPDATE SET seq = excluded.seq, off = excluded.off " +
		"WHERE spend_journal_pos.seq < excluded.seq OR (spend_journal_pos.seq = excluded.seq AND spend_journal_pos.off < excluded.off)"
	posSelect = "SELECT seq, off FROM spend_journal_pos WHERE journal = ?"
	posForget = "DELETE FROM spend_journal_pos WHERE journal = ?"
)

// advancePos moves journal's committed position to b.end inside a
// transaction; it reports false when b is committed already.
func advancePos(ctx context.Context, c conn, b *journalBatch) (bool, error) {
	if b.journal == "" {
		return true, nil
	}
	n, err := c.exec(ctx, posUpsert, b.journal, int64(b.end.seq), b.end.off)
	if err != nil {
		return false, fmt.Errorf("journal position: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if b.forget != "" && b.forget != b.journal {
		if _, err := c.exec(ctx, posForget, b.forget); err != nil {
			return false, fmt.Errorf("journal position: %w", err)
		}
	}
	return true, nil
}

func readPosition(ctx context.Context, d conn, journal string) (journalPos, error) {
	var p journalPos
	err := d.query(ctx, posSelect, []any{journal}, func(scan func(...any) error) error {
		var seq, off int64
		if err := scan(&seq, &off); err != nil {
			return err
		}
		p = journalPos{seq: uint64(seq), off: off}
		return nil
	})
	if err != nil {
		return journalPos{}, fmt.Errorf("journal position: %w", err)
	}
	return p, nil
}
