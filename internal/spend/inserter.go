package spend

import (
	"context"
	"os"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// inserter is the state of insertLoop: where it reads, and the batch it
// is filling.
type inserter struct {
	w     *Writer
	pos   journalPos // where it reads next
	rd    *os.File   // a segment open for reading
	rdSeq uint64
	chunk []byte

	batch   journalBatch
	posEnds []journalPos // the position after each record of the batch
	firstAt time.Time
	done    []*segment // fully read, awaiting the commit of the batch
	forget  string     // the directory's previous journal id, until a commit drops it
}

// insertLoop reads the journal and commits it to the store.
func (w *Writer) insertLoop() {
	defer close(w.insertDone)
	ins := &inserter{w: w, chunk: make([]byte, 256<<10), forget: w.prevJournal}
	defer ins.closeReader()
	w.mu.Lock()
	ins.pos = journalPos{seq: w.segs[0].seq}
	w.mu.Unlock()
	if !ins.skipCommitted() {
		return
	}
	stop := w.stopInsert
	draining := false
	for {
		select {
		case <-w.crashed:
			return
		default:
		}
		more := ins.fill()
		n := len(ins.batch.recs)
		due := n >= w.opts.BatchSize || (n > 0 && (draining || time.Since(ins.firstAt) >= w.opts.FlushInterval))
		if due || (n == 0 && len(ins.done) > 0) {
			if n > 0 && !ins.commit() {
				return // aborted: records stay in the journal
			}
			w.checkpoint(ins.done)
			ins.done = ins.done[:0]
			if ins.rd != nil && !w.hasSeg(ins.rdSeq) {
				ins.closeReader()
			}
			continue
		}
		if more {
			continue
		}
		if draining && n == 0 {
			// Everything is committed: remove the last, sealed segments.
			w.mu.Lock()
			var last []*segment
			for _, s := range w.segs {
				if s.sealed && (s.seq < ins.pos.seq || (s.seq == ins.pos.seq && ins.pos.off >= s.size)) {
					last = append(last, s)
				}
			}
			w.mu.Unlock()
			ins.closeReader()
			w.checkpoint(last)
			return
		}
		// With a partial batch, wait until it is due; idle, look again
		// after FlushInterval anyway, so that a record the appender did not
		// wake us for (see appendLocked) waits that long at most.
		wait := w.opts.idlePoll
		if n > 0 {
			wait = time.Until(ins.firstAt.Add(w.opts.FlushInterval))
		}
		t := time.NewTimer(wait)
		select {
		case <-w.dataReady:
		case <-t.C:
		case <-stop:
			draining = true
			stop = nil // closed: do not select it again
		case <-w.crashed:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// skipCommitted moves the read position past what a previous process
// committed, as the store's journal position says, and deletes the
// segments wholly before it. It waits for the database (retrying as
// commits do) and returns false if the Writer is aborted meanwhile.
func (ins *inserter) skipCommitted() bool {
	w := ins.w
	if w.ps == nil || !w.replay {
		return true
	}
	backoff := w.opts.RetryMin
	var p journalPos
	for {
		ctx, cancel := context.WithTimeout(w.ctx, w.opts.InsertTimeout)
		var err error
		p, err = w.ps.committedPos(ctx, w.journalID)
		cancel()
		if err == nil {
			w.setErr(nil)
			break
		}
		if w.ctx.Err() != nil {
			return false
		}
		w.setErr(err)
		select {
		case <-time.After(backoff):
		case <-w.ctx.Done():
			return false
		case <-w.crashed:
			return false
		}
		backoff = min(backoff*2, w.opts.RetryMax)
	}
	if p == (journalPos{}) {
		return true
	}
	var gone []*segment
	var at *segment
	w.mu.Lock()
	for _, s := range w.segs {
		switch {
		case s.seq < p.seq && s.sealed:
			gone = append(gone, s)
		case s.seq == p.seq:
			at = s
		}
	}
	w.mu.Unlock()
	var skipped int64
	for _, s := range gone {
		skipped += s.lines
	}
	if at != nil {
		n, _, err := countLines(at.path, min(p.off, at.size))
		if err != nil {
			w.log.Warn("spend journal: count committed records", "err", err)
		}
		skipped += n
		ins.pos = journalPos{seq: p.seq, off: min(p.off, at.size)}
	} else {
		ins.pos = journalPos{seq: p.seq}
	}
	w.backlog.Add(-skipped)
	if skipped > 0 {
		w.log.Info("spend journal: skipping records committed before the restart", "records", skipped)
	}
	w.checkpoint(gone)
	return true
}

func (ins *inserter) closeReader() {
	if ins.rd != nil {
		ins.rd.Close()
		ins.rd = nil
	}
}

// reader returns segment seg open for reading.
func (ins *inserter) reader(seg *segment) (*os.File, error) {
	if ins.rd != nil && ins.rdSeq == seg.seq {
		return ins.rd, nil
	}
	ins.closeReader()
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, err
	}
	ins.rd, ins.rdSeq = f, seg.seq
	return f, nil
}

// add appends a record to the batch, with the position after its line.
func (ins *inserter) add(r *record.Record, end journalPos) {
	if len(ins.batch.recs) == 0 {
		ins.firstAt = time.Now()
	}
	ins.batch.recs = append(ins.batch.recs, r)
	ins.posEnds = append(ins.posEnds, end)
}

// fill takes records into the batch, from memory or read back from the
// journal, until it is full or the journal has no more for now; it
// reports whether the journal has more to read right now.
func (ins *inserter) fill() bool {
	w := ins.w
	for len(ins.batch.recs) < w.opts.BatchSize {
		w.mu.Lock()
		var seg, next *segment
		for i, s := range w.segs {
			if s.seq >= ins.pos.seq {
				seg = s
				if i+1 < len(w.segs) {
					next = w.segs[i+1]
				}
				break
			}
		}
		var size, limit int64
		var sealed bool
		took := false
		if seg != nil {
			if seg.seq != ins.pos.seq {
				ins.pos = journalPos{seq: seg.seq}
			}
			size, sealed = seg.size, seg.sealed
			// Take what the hand-off buffer holds from here on; records
			// before pos were read back from the journal already.
			limit = size
			for w.memHead < len(w.mem) && len(ins.batch.recs) < w.opts.BatchSize {
				m := &w.mem[w.memHead]
				if m.seq < ins.pos.seq || (m.seq == ins.pos.seq && m.start < ins.pos.off) {
					w.popMem()
					continue
				}
				if m.seq != ins.pos.seq || m.start != ins.pos.off || m.end > size {
					if m.seq == ins.pos.seq {
						limit = min(limit, m.start) // read back only the gap
					}
					break
				}
				ins.add(m.rec, journalPos{seq: m.seq, off: m.end})
				ins.pos.off = m.end
				w.popMem()
				took = true
			}
		}
		w.mu.Unlock()
		if seg == nil {
			return false
		}
		if took {
			continue
		}
		if limit <= ins.pos.off {
			limit = size
		}
		if ins.pos.off >= size {
			if !sealed || next == nil {
				return false
			}
			ins.done = append(ins.done, seg)
			ins.pos = journalPos{seq: next.seq}
			continue
		}
		if !ins.readBack(seg, limit) {
			ins.pos.off = size // unreadable: skip it
		}
	}
	return true
}

// readBack reads lines of seg from pos up to limit into the batch.
func (ins *inserter) readBack(seg *segment, limit int64) bool {
	w := ins.w
	f, err := ins.reader(seg)
	if err != nil {
		w.log.Error("spend journal: open segment", "err", err)
		return false
	}
	want := min(int64(len(ins.chunk)), limit-ins.pos.off)
	k, err := f.ReadAt(ins.chunk[:want], ins.pos.off)
	if k == 0 && err != nil {
		w.log.Error("spend journal: read segment", "err", err)
		return false
	}
	data := ins.chunk[:k]
	atEOF := ins.pos.off+int64(k) >= limit
	used := 0
	for len(ins.batch.recs) < w.opts.BatchSize {
		n, line, kind := nextLine(data[used:], atEOF)
		if kind == lineMore {
			break
		}
		used += n
		switch kind {
		case lineTorn:
			w.corrupt.Add(1)
			w.log.Warn("spend journal: dropping a torn record (its response never completed)",
				"segment", seg.path, "offset", ins.pos.off+int64(used-n), "bytes", len(line))
		case lineOK:
			r := recordPool.Get().(*record.Record)
			if err := parseLine(line, r); err != nil {
				*r = record.Record{}
				recordPool.Put(r)
				w.corrupt.Add(1)
				w.backlog.Add(-1)
				w.log.Warn("spend journal: dropping a record that does not decode", "segment", seg.path, "err", err)
				continue
			}
			ins.add(r, journalPos{seq: seg.seq, off: ins.pos.off + int64(used)})
		}
	}
	if used == 0 && len(ins.batch.recs) < w.opts.BatchSize {
		if len(ins.chunk) < 64<<20 {
			ins.chunk = make([]byte, 2*len(ins.chunk)) // a line longer than the chunk
			return true
		}
		w.log.Warn("spend journal: skipping an overlong record", "segment", seg.path)
		w.corrupt.Add(1)
		used = int(want)
	}
	ins.pos.off += int64(used)
	return true
}

// commit inserts the batch and resets it; false when aborted.
func (ins *inserter) commit() bool {
	w := ins.w
	b := &ins.batch
	if !w.commit(b, ins.posEnds, ins.forget) {
		return false
	}
	n := len(b.recs)
	ins.forget = ""
	w.mu.Lock()
	w.committedTo = ins.posEnds[len(ins.posEnds)-1]
	w.mu.Unlock()
	w.committed.Add(uint64(n))
	w.backlog.Add(-int64(n))
	releaseRecords(b.recs)
	b.recs = b.recs[:0]
	ins.posEnds = ins.posEnds[:0]
	return true
}

func (w *Writer) hasSeg(seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.segs {
		if s.seq == seq {
			return true
		}
	}
	return false
}

// checkpoint deletes fully committed segments, oldest first (so that the
// newest segment of a journal is the last to go, and a restart never
// numbers a segment at or below a committed position).
func (w *Writer) checkpoint(done []*segment) {
	if len(done) == 0 {
		return
	}
	w.mu.Lock()
	for _, d := range done {
		for i, s := range w.segs {
			if s == d {
				w.segs = append(w.segs[:i], w.segs[i+1:]...)
				w.journalLen -= s.size
				break
			}
		}
	}
	w.mu.Unlock()
	for _, d := range done {
		w.recycle(d)
	}
}

// commit inserts b (with ends[i] the journal position after record i),
// retrying until it succeeds or the Writer is aborted. It returns false
// when aborted.
func (w *Writer) commit(b *journalBatch, ends []journalPos, forget string) bool {
	backoff := w.opts.RetryMin
	dataFailures := 0
	for {
		ctx, cancel := context.WithTimeout(w.ctx, w.opts.InsertTimeout)
		var err error
		if w.ps != nil {
			b.journal, b.end, b.forget = w.journalID, ends[len(ends)-1], forget
			b.legacy = b.end.seq <= w.legacyUpTo
			err = w.ps.insertBatch(ctx, b)
		} else {
			err = w.store.Insert(ctx, b.recs)
		}
		cancel()
		if err == nil {
			w.setErr(nil)
			return true
		}
		if w.ctx.Err() != nil {
			return false
		}
		// The database answers: the batch itself is the problem.
		pctx, pcancel := context.WithTimeout(w.ctx, 5*time.Second)
		reachable := w.store.Ping(pctx) == nil
		pcancel()
		if reachable {
			if len(b.recs) > 1 {
				h := len(b.recs) / 2
				lo, hi := &journalBatch{recs: b.recs[:h]}, &journalBatch{recs: b.recs[h:]}
				return w.commit(lo, ends[:h], forget) && w.commit(hi, ends[h:], "")
			}
			if dataFailures++; dataFailures >= 3 {
				w.rejected.Add(1)
				w.log.Error("spend log: database rejects a record; dropping it", "request_id", b.recs[0].ID, "err", err)
				return true
			}
		} else {
			w.setErr(err)
		}
		select {
		case <-time.After(backoff):
		case <-w.ctx.Done():
			return false
		}
		backoff = min(backoff*2, w.opts.RetryMax)
	}
}
