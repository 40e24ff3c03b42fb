package spend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// The Writer gets records from the request path into the Store.
//
//	Record ──chan (QueueSize)──► appender ──write()──► journal segment ──read──► inserter ──tx──► Store
//	(marshal, never blocks)     fsync ≤ SyncInterval     spend-NNN.jsonl     batch ≤ BatchSize / FlushInterval
//
// Record encodes the record as one JSON line (appendLine) on the caller's
// goroutine and hands it to a bounded queue; when the queue is full the
// record is dropped and counted (Dropped), never waited for. The appender
// goroutine drains the queue and appends each batch of lines to the current
// journal segment with a single write() call, so every line is whole on
// disk; it fsyncs whenever SyncInterval has passed since the last fsync,
// and a ticker fsyncs dirty data, so:
//
//	a record for every response that finished is in the journal file (page
//	cache: survives kill -9) within microseconds of Record, after the queue
//	ahead of it, and on stable storage (survives power loss) within
//	SyncInterval (200 ms by default).
//
// Every journaled line is also handed to the inserter in memory: the
// append that writes it pushes a copy of the record, with the line's
// journal position, onto a bounded hand-off buffer (mem). The inserter
// takes a record from there when it is the next one the journal holds for
// it, and reads the journal back otherwise: after a restart (replay) and
// when the buffer overflowed (a slow or unreachable database). The journal
// stays the queue to the database, so an outage costs disk, not memory:
// the inserter holds at most one batch plus the bounded buffer. It inserts
// batches of BatchSize or every FlushInterval in one
// transaction, and only after the commit deletes the segments it has fully
// committed (the appender starts a new segment after each commit that
// caught up, so a restart replays little). Insert is idempotent on the
// record id, so records committed but not yet checkpointed are replayed
// harmlessly: a crash at any point leaves every journaled record in the
// database exactly once after the next start. NewWriter replays what the
// previous process left, in the background, before new records.
//
// While the database is down the inserter retries with exponential backoff,
// Healthy reports "spend log database unreachable, N records waiting", and
// the journal grows up to MaxJournalBytes (then records are dropped and
// counted). A batch the database rejects while it answers Ping is split
// until the bad record is found; that record is dropped after three
// attempts (Rejected), so one poison record cannot stall the log.
type Writer struct {
	store Store
	dir   string
	opts  WriterOptions
	log   *slog.Logger
	lock  *os.File

	queue chan queued

	closed    atomic.Bool
	dropped   atomic.Uint64
	rejected  atomic.Uint64
	corrupt   atomic.Uint64
	journaled atomic.Uint64
	committed atomic.Uint64
	backlog   atomic.Int64 // records in the journal, not yet committed

	mu         sync.Mutex
	segs       []*segment // by seq; the last one is the appender's, unless sealed
	lastErr    error
	commitSeq  uint64 // the inserter has committed everything before (commitSeq, commitOff)
	commitOff  int64
	nextSeq    uint64
	journalLen int64 // bytes in all segments

	// mem[memHead:] are journaled records not yet taken by the inserter, in
	// journal order (pushed under fileMu and mu); bounded by memMax records
	// and memMaxBytes of journal lines. A record that does not fit is left
	// for the inserter to read back from the journal.
	mem      []memRec
	memHead  int
	memBytes int64

	file *os.File // the current segment; written under fileMu
	// fileMu serializes every use of file: the appender's batches, fsyncs
	// and rotations, and RecordDurable's direct appends.
	fileMu sync.Mutex
	// syncPending is set by a direct append: the appender fsyncs it.
	syncPending atomic.Bool

	dataReady  chan struct{} // appender → inserter
	committedC chan struct{} // inserter → appender: maybe rotate

	ctx        context.Context // canceled to abort retries (Close deadline, crash)
	cancel     context.CancelFunc
	stopAppend chan struct{}
	appendDone chan struct{}
	stopInsert chan struct{}
	insertDone chan struct{}
	crashed    chan struct{}
}

var _ record.Sink = (*Writer)(nil)

// WriterOptions tune a Writer; zero fields take the defaults.
type WriterOptions struct {
	QueueSize       int           // records between Record and the appender; 16384
	SyncInterval    time.Duration // fsync bound; 200ms
	BatchSize       int           // records per insert transaction; 500
	FlushInterval   time.Duration // longest wait before a partial batch is inserted; 1s
	SegmentBytes    int64         // journal segment size before rotation; 16 MiB
	MaxJournalBytes int64         // journal bound while the database is down; 1 GiB
	RetryMin        time.Duration // insert retry backoff; 100ms
	RetryMax        time.Duration // 10s
	InsertTimeout   time.Duration // per insert attempt; 30s
	Logger          *slog.Logger  // slog.Default()
	// AppendDelay holds each journal append back (fault injection for the
	// crash test: it widens the window a non-durable Record would lose).
	AppendDelay time.Duration

	idlePoll time.Duration // how often an idle inserter looks anyway; FlushInterval
}

func (o *WriterOptions) defaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 16384
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
	}
	if o.MaxJournalBytes <= 0 {
		o.MaxJournalBytes = 1 << 30
	}
	def(&o.SyncInterval, 200*time.Millisecond)
	def(&o.FlushInterval, time.Second)
	def(&o.idlePoll, o.FlushInterval)
	def(&o.RetryMin, 100*time.Millisecond)
	def(&o.RetryMax, 10*time.Second)
	def(&o.InsertTimeout, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// queued is a record on its way to the appender: its journal line (a
// pooled buffer, returned once written) and the snapshot the line encodes.
type queued struct {
	line *lineBuf
	rec  *record.Record
}

// memRec is a journaled record handed to the inserter in memory; its line
// is [start, end) of segment seq.
type memRec struct {
	rec        *record.Record
	seq        uint64
	start, end int64
}

// memMaxBytes bounds the journal bytes the hand-off buffer stands for.
const memMaxBytes = 8 << 20

type segment struct {
	seq    uint64
	path   string
	size   int64 // bytes of whole lines written
	sealed bool  // no more appends
}

const segPrefix, segSuffix = "spend-", ".jsonl"

func segName(seq uint64) string { return fmt.Sprintf("%s%020d%s", segPrefix, seq, segSuffix) }

// NewWriter opens (creating) the journal in journalDir, takes its lock,
// and starts the appender and the inserter; records a previous process left
// in the journal are inserted first.
func NewWriter(store Store, journalDir string, opts WriterOptions) (*Writer, error) {
	opts.defaults()
	if err := os.MkdirAll(journalDir, 0o700); err != nil {
		return nil, fmt.Errorf("spend journal: %w", err)
	}
	lock, err := lockDir(journalDir)
	if err != nil {
		return nil, fmt.Errorf("spend journal: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		store: store, dir: journalDir, opts: opts, log: opts.Logger, lock: lock,
		queue:      make(chan queued, opts.QueueSize),
		mem:        make([]memRec, 0, max(4*opts.BatchSize, 1024)),
		dataReady:  make(chan struct{}, 1),
		committedC: make(chan struct{}, 1),
		ctx:        ctx, cancel: cancel,
		stopAppend: make(chan struct{}), appendDone: make(chan struct{}),
		stopInsert: make(chan struct{}), insertDone: make(chan struct{}),
		crashed: make(chan struct{}),
	}
	if err := w.loadSegments(); err != nil {
		cancel()
		lock.Close()
		return nil, err
	}
	if err := w.openSegment(); err != nil {
		cancel()
		lock.Close()
		return nil, err
	}
	go w.appendLoop()
	go w.insertLoop()
	return w, nil
}

// loadSegments seals the segments a previous process left and counts
// their records.
func (w *Writer) loadSegments() error {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("spend journal: %w", err)
	}
	var lines int64
	for _, e := range ents {
		var seq uint64
		name := e.Name()
		if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), "%d", &seq); err != nil {
			continue
		}
		p := filepath.Join(w.dir, name)
		n, size, err := countLines(p)
		if err != nil {
			return fmt.Errorf("spend journal: %w", err)
		}
		lines += n
		w.segs = append(w.segs, &segment{seq: seq, path: p, size: size, sealed: true})
		w.journalLen += size
		w.nextSeq = max(w.nextSeq, seq+1)
	}
	sort.Slice(w.segs, func(i, j int) bool { return w.segs[i].seq < w.segs[j].seq })
	if w.nextSeq == 0 {
		w.nextSeq = 1
	}
	w.backlog.Store(lines)
	if lines > 0 {
		w.log.Info("spend journal: replaying records of a previous run", "records", lines, "segments", len(w.segs))
	}
	return nil
}

func countLines(path string) (n, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		size += int64(k)
		if err == io.EOF {
			return n, size, nil
		}
		if err != nil {
			return n, size, err
		}
	}
}

// openSegment starts a new segment for the appender.
func (w *Writer) openSegment() error {
	w.mu.Lock()
	seq := w.nextSeq
	w.nextSeq++
	w.mu.Unlock()
	p := filepath.Join(w.dir, segName(seq))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spend journal: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		os.Remove(p)
		return fmt.Errorf("spend journal: %w", err)
	}
	w.file = f
	w.mu.Lock()
	w.segs = append(w.segs, &segment{seq: seq, path: p})
	w.mu.Unlock()
	return nil
}

// Record implements record.Sink. It never blocks: the record is encoded
// here (a snapshot: the caller may reuse r afterwards) and queued, or
// dropped and counted when the queue is full or the Writer closed.
func (w *Writer) Record(r *record.Record) { w.record(r) }

// RecordDurable is Record that returns only once the record's line is in
// the journal file (written with write(): it survives kill -9 of this
// process), or was dropped. The server calls it before the last byte of a
// response goes out, so every response a client saw has its record. The
// appender fsyncs it within SyncInterval like every other line.
func (w *Writer) RecordDurable(r *record.Record) {
	if r == nil {
		return
	}
	r = snapshot(r)
	lb := getLineBuf()
	var err error
	if lb.b, err = appendLine(lb.b[:0], r); err != nil {
		putLineBuf(lb)
		w.dropped.Add(1)
		return
	}
	// Appended on the caller's goroutine: one write() under the file lock,
	// no hand-off to the appender.
	w.fileMu.Lock()
	if w.closed.Load() {
		w.fileMu.Unlock()
		putLineBuf(lb)
		w.dropped.Add(1)
		return
	}
	ok := w.writeBatch(lb.b, []queued{{line: lb, rec: r}})
	w.fileMu.Unlock()
	putLineBuf(lb)
	if ok {
		w.syncPending.Store(true)
	}
}

func (w *Writer) record(r *record.Record) bool {
	if r == nil {
		return false
	}
	if w.closed.Load() {
		w.dropped.Add(1)
		return false
	}
	rc := snapshot(r)
	lb := getLineBuf()
	var err error
	if lb.b, err = appendLine(lb.b[:0], rc); err != nil {
		putLineBuf(lb)
		w.dropped.Add(1)
		return false
	}
	select {
	case w.queue <- queued{line: lb, rec: rc}:
		return true
	default:
		putLineBuf(lb)
		w.dropped.Add(1)
		return false
	}
}

// snapshot copies r for the inserter (the caller may reuse r), with an id:
// idempotent replay needs one.
func snapshot(r *record.Record) *record.Record {
	c := *r
	c.Tags = slices.Clone(r.Tags)
	if c.ID == "" {
		c.ID = NewID()
	}
	return &c
}

// appendLoop owns the segment file: appends, fsyncs, rotates.
func (w *Writer) appendLoop() {
	defer close(w.appendDone)
	tick := time.NewTicker(w.opts.SyncInterval)
	defer tick.Stop()
	var buf []byte
	var items []queued
	dirty := false
	lastSync := time.Now()
	syncNow := func() {
		w.fileMu.Lock()
		if (dirty || w.syncPending.Swap(false)) && w.file != nil {
			if err := w.file.Sync(); err != nil {
				w.log.Warn("spend journal: fsync", "err", err)
			}
		}
		w.fileMu.Unlock()
		dirty = false
		lastSync = time.Now()
	}
	drain := func(first queued) {
		buf = append(buf[:0], first.line.b...)
		items = append(items[:0], first)
	more:
		for len(buf) < 1<<20 {
			select {
			case q := <-w.queue:
				buf = append(buf, q.line.b...)
				items = append(items, q)
			default:
				break more
			}
		}
		if w.opts.AppendDelay > 0 {
			time.Sleep(w.opts.AppendDelay)
		}
		w.fileMu.Lock()
		if w.writeBatch(buf, items) {
			dirty = true
		}
		w.fileMu.Unlock()
		for _, q := range items {
			putLineBuf(q.line)
		}
		clear(items)
	}
	for {
		select {
		case <-w.crashed:
			return
		default:
		}
		select {
		case <-w.crashed:
			return
		case l := <-w.queue:
			drain(l)
			if time.Since(lastSync) >= w.opts.SyncInterval {
				syncNow()
			}
		case <-tick.C:
			syncNow()
		case <-w.committedC:
			w.fileMu.Lock()
			w.maybeRotate()
			w.fileMu.Unlock()
		case <-w.stopAppend:
			for {
				select {
				case l := <-w.queue:
					drain(l)
					continue
				default:
				}
				break
			}
			syncNow()
			w.fileMu.Lock()
			w.seal()
			w.fileMu.Unlock()
			return
		}
	}
}

// writeBatch appends the lines of items (buf is their concatenation) with
// one write() and publishes them, in the journal and in memory.
func (w *Writer) writeBatch(buf []byte, items []queued) bool {
	n := len(items)
	var cur *segment
	w.mu.Lock()
	full := w.journalLen+int64(len(buf)) > w.opts.MaxJournalBytes
	if w.file != nil {
		cur = w.segs[len(w.segs)-1]
	}
	w.mu.Unlock()
	if full {
		w.dropped.Add(uint64(n))
		w.log.Warn("spend journal full: dropping records", "records", n, "max_bytes", w.opts.MaxJournalBytes)
		return false
	}
	if w.file == nil {
		if err := w.openSegment(); err != nil {
			w.dropped.Add(uint64(n))
			w.log.Warn("spend journal: dropping records", "records", n, "err", err)
			return false
		}
		cur = w.current()
	}
	if _, err := w.file.Write(buf); err != nil {
		// Cut a torn tail so the next append starts on a line boundary.
		w.file.Truncate(cur.size)
		w.dropped.Add(uint64(n))
		w.log.Warn("spend journal: write failed, dropping records", "records", n, "err", err)
		return false
	}
	w.mu.Lock()
	w.pushMem(cur.seq, cur.size, items)
	cur.size += int64(len(buf))
	w.journalLen += int64(len(buf))
	rotate := cur.size >= w.opts.SegmentBytes
	w.mu.Unlock()
	w.journaled.Add(uint64(n))
	// Wake the inserter when it may be idle (nothing was waiting: it has
	// no batch to flush) or a batch is full; in between it holds a partial
	// batch and its flush timer runs. Every record is counted after it is
	// visible to the inserter, and the inserter subtracts committed ones
	// before it looks again, so the record that finds the count at 0 is
	// one it has not seen. (Were the count off, an idle inserter still
	// looks every FlushInterval.)
	if was := w.backlog.Add(int64(n)) - int64(n); was == 0 || was+int64(n) >= int64(w.opts.BatchSize) {
		w.signal(w.dataReady)
	}
	if rotate {
		w.rotate()
	}
	return true
}

// pushMem hands the records just written at off of segment seq to the
// inserter, as far as the buffer has room. Called with mu held.
func (w *Writer) pushMem(seq uint64, off int64, items []queued) {
	for _, q := range items {
		n := int64(len(q.line.b))
		end := off + n
		if len(w.mem) == cap(w.mem) && w.memHead > 0 {
			k := copy(w.mem, w.mem[w.memHead:])
			clear(w.mem[k:])
			w.mem, w.memHead = w.mem[:k], 0
		}
		if len(w.mem) == cap(w.mem) || w.memBytes+n > memMaxBytes {
			return // the rest is read back from the journal
		}
		w.mem = append(w.mem, memRec{rec: q.rec, seq: seq, start: off, end: end})
		w.memBytes += n
		off = end
	}
}

// popMem drops the first record of the hand-off buffer. Called with mu held.
func (w *Writer) popMem() {
	m := &w.mem[w.memHead]
	w.memBytes -= m.end - m.start
	*m = memRec{}
	if w.memHead++; w.memHead == len(w.mem) {
		w.mem, w.memHead = w.mem[:0], 0
	}
}

func (w *Writer) current() *segment {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.segs[len(w.segs)-1]
}

func (w *Writer) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// seal closes the appender's segment; the inserter deletes it once its
// records are committed.
func (w *Writer) seal() {
	if w.file == nil {
		return
	}
	w.file.Sync()
	w.file.Close()
	w.file = nil
	w.mu.Lock()
	w.segs[len(w.segs)-1].sealed = true
	w.mu.Unlock()
	w.signal(w.dataReady)
}

func (w *Writer) rotate() {
	w.seal()
	if err := w.openSegment(); err != nil {
		w.log.Warn("spend journal: new segment", "err", err) // retried on the next write
	}
}

// maybeRotate starts a new segment when the inserter has committed all of
// the current one, so that the committed one can be deleted.
func (w *Writer) maybeRotate() {
	w.mu.Lock()
	cur := w.segs[len(w.segs)-1]
	caughtUp := w.file != nil && cur.size > 0 && w.commitSeq == cur.seq && w.commitOff == cur.size
	w.mu.Unlock()
	if caughtUp {
		w.rotate()
	}
}

// readPos is where the inserter reads next.
type readPos struct {
	seq uint64
	off int64
}

// insertLoop reads the journal and commits it to the store.
func (w *Writer) insertLoop() {
	defer close(w.insertDone)
	var (
		pos      readPos
		rd       *os.File
		rdSeq    uint64
		pending  []*record.Record
		firstAt  time.Time
		done     []*segment // fully read, awaiting the commit of pending
		draining bool
		chunk    = make([]byte, 256<<10)
		stop     = w.stopInsert
	)
	defer func() {
		if rd != nil {
			rd.Close()
		}
	}()
	w.mu.Lock()
	pos.seq = w.segs[0].seq
	w.mu.Unlock()

	// fill reads whole lines into pending; it reports whether the journal
	// has more to read right now.
	fill := func() bool {
		for len(pending) < w.opts.BatchSize {
			w.mu.Lock()
			var seg, next *segment
			for i, s := range w.segs {
				if s.seq >= pos.seq {
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
				if seg.seq != pos.seq {
					pos = readPos{seq: seg.seq}
				}
				size, sealed = seg.size, seg.sealed
				// Take what the hand-off buffer holds from here on; records
				// before pos were read back from the journal already.
				limit = size
				for w.memHead < len(w.mem) && len(pending) < w.opts.BatchSize {
					m := &w.mem[w.memHead]
					if m.seq < pos.seq || (m.seq == pos.seq && m.start < pos.off) {
						w.popMem()
						continue
					}
					if m.seq != pos.seq || m.start != pos.off || m.end > size {
						if m.seq == pos.seq {
							limit = min(limit, m.start) // read back only the gap
						}
						break
					}
					if len(pending) == 0 {
						firstAt = time.Now()
					}
					pending = append(pending, m.rec)
					pos.off = m.end
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
			if limit <= pos.off {
				limit = size
			}
			if pos.off >= size {
				if !sealed || next == nil {
					return false
				}
				done = append(done, seg)
				pos = readPos{seq: next.seq}
				continue
			}
			if rd == nil || rdSeq != seg.seq {
				if rd != nil {
					rd.Close()
				}
				f, err := os.Open(seg.path)
				if err != nil {
					w.log.Error("spend journal: open segment", "err", err)
					pos.off = size // skip it
					continue
				}
				rd, rdSeq = f, seg.seq
			}
			want := min(int64(len(chunk)), limit-pos.off)
			k, err := rd.ReadAt(chunk[:want], pos.off)
			short := int64(k) < want
			if k == 0 && err != nil {
				w.log.Error("spend journal: read segment", "err", err)
				pos.off = size
				continue
			}
			data := chunk[:k]
			consumed := 0
			for len(pending) < w.opts.BatchSize {
				i := bytes.IndexByte(data[consumed:], '\n')
				if i < 0 {
					break
				}
				line := data[consumed : consumed+i]
				consumed += i + 1
				var r record.Record
				if err := json.Unmarshal(line, &r); err != nil || r.ID == "" {
					w.corrupt.Add(1)
					w.backlog.Add(-1)
					continue
				}
				if len(pending) == 0 {
					firstAt = time.Now()
				}
				pending = append(pending, &r)
			}
			if consumed == 0 && len(pending) < w.opts.BatchSize {
				if !short && int64(k) < limit-pos.off && len(chunk) < 64<<20 {
					// A line longer than the chunk: grow and retry.
					chunk = make([]byte, 2*len(chunk))
					continue
				}
				// A torn last line (a crash mid-write) or a damaged file: skip it.
				w.log.Warn("spend journal: skipping a torn record", "segment", seg.path)
				w.corrupt.Add(1)
				consumed = int(limit - pos.off)
			}
			pos.off += int64(consumed)
		}
		return true
	}

	for {
		select {
		case <-w.crashed:
			return
		default:
		}
		more := fill()
		due := len(pending) >= w.opts.BatchSize ||
			(len(pending) > 0 && (draining || time.Since(firstAt) >= w.opts.FlushInterval))
		if due || (len(pending) == 0 && len(done) > 0) {
			if len(pending) > 0 && !w.commit(pending) {
				return // aborted: records stay in the journal
			}
			w.committed.Add(uint64(len(pending)))
			w.backlog.Add(-int64(len(pending)))
			pending = pending[:0]
			w.checkpoint(pos, done)
			done = done[:0]
			if rd != nil && !w.hasSeg(rdSeq) {
				rd.Close()
				rd = nil
			}
			continue
		}
		if more {
			continue
		}
		if draining && len(pending) == 0 {
			// Everything is committed: remove the last, sealed segment.
			w.mu.Lock()
			var last []*segment
			for _, s := range w.segs {
				if s.sealed && s.seq <= pos.seq {
					if s.seq < pos.seq || pos.off >= s.size {
						last = append(last, s)
					}
				}
			}
			w.mu.Unlock()
			if rd != nil {
				rd.Close()
				rd = nil
			}
			w.checkpoint(pos, last)
			return
		}
		// With a partial batch, wait until it is due; idle, look again
		// after FlushInterval anyway, so that a record the appender did not
		// wake us for (see writeBatch) waits that long at most.
		wait := w.opts.idlePoll
		if len(pending) > 0 {
			wait = time.Until(firstAt.Add(w.opts.FlushInterval))
		}
		t := time.NewTimer(wait)
		select {
		case <-w.dataReady:
		case <-t.C:
		case <-stop:
			draining = true
			stop = nil // closed: do not select it again
		case <-w.crashed:
			return
		}
		t.Stop()
	}
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

// checkpoint records the committed position and deletes the fully
// committed segments.
func (w *Writer) checkpoint(pos readPos, done []*segment) {
	w.mu.Lock()
	w.commitSeq, w.commitOff = pos.seq, pos.off
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
		if err := os.Remove(d.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.log.Warn("spend journal: remove committed segment", "err", err)
		}
	}
	w.signal(w.committedC)
}

// commit inserts recs, retrying until it succeeds or the Writer is
// aborted. It returns false when aborted.
func (w *Writer) commit(recs []*record.Record) bool {
	backoff := w.opts.RetryMin
	dataFailures := 0
	for {
		ctx, cancel := context.WithTimeout(w.ctx, w.opts.InsertTimeout)
		err := w.store.Insert(ctx, recs)
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
			if len(recs) > 1 {
				h := len(recs) / 2
				return w.commit(recs[:h]) && w.commit(recs[h:])
			}
			if dataFailures++; dataFailures >= 3 {
				w.rejected.Add(1)
				w.log.Error("spend log: database rejects a record; dropping it", "request_id", recs[0].ID, "err", err)
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

func (w *Writer) setErr(err error) {
	w.mu.Lock()
	prev := w.lastErr
	w.lastErr = err
	w.mu.Unlock()
	switch {
	case err != nil && prev == nil:
		w.log.Warn("spend log database unreachable; records kept in the journal", "err", err)
	case err == nil && prev != nil:
		w.log.Info("spend log database reachable again", "waiting", w.Waiting())
	}
}

// Healthy reports whether records are reaching the database, for
// /health/readiness.
func (w *Writer) Healthy() error {
	w.mu.Lock()
	err := w.lastErr
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("spend log database unreachable, %d records waiting: %w", w.Waiting(), err)
	}
	return nil
}

// Waiting is the number of records queued or journaled but not committed.
func (w *Writer) Waiting() int64 { return w.backlog.Load() + int64(len(w.queue)) }

// Dropped is the number of records lost: queue full, journal full or
// unwritable, or recorded after Close.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// WriterStats are the Writer's counters.
type WriterStats struct {
	Journaled uint64 // records appended to the journal by this process
	Committed uint64 // records committed to the store (replayed ones included)
	Waiting   int64  // queued or journaled, not yet committed
	Dropped   uint64 // never journaled (see Dropped)
	Rejected  uint64 // refused by a reachable database, after retries
	Corrupt   uint64 // journal lines that did not decode
}

// Stats returns the Writer's counters.
func (w *Writer) Stats() WriterStats {
	return WriterStats{Journaled: w.journaled.Load(), Committed: w.committed.Load(), Waiting: w.Waiting(),
		Dropped: w.dropped.Load(), Rejected: w.rejected.Load(), Corrupt: w.corrupt.Load()}
}

// Close stops accepting records, journals what is queued, and waits until
// the journal is committed to the store or ctx is done. Records not
// committed by then stay in the journal for the next start, and Close
// returns an error saying how many. Close does not close the store.
func (w *Writer) Close(ctx context.Context) error {
	if !w.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(w.stopAppend)
	<-w.appendDone
	close(w.stopInsert)
	var err error
	select {
	case <-w.insertDone:
	case <-ctx.Done():
		w.cancel()
		<-w.insertDone
		err = fmt.Errorf("spend: %d records left in the journal for the next start: %w", w.Waiting(), ctx.Err())
	}
	w.cancel()
	w.dropped.Add(uint64(len(w.queue))) // recorded while closing
	w.lock.Close()
	return err
}

// crash stops the Writer as kill -9 would, for tests: no draining, no
// final fsync, no commit; what was written stays in the journal.
func (w *Writer) crash() {
	w.closed.Store(true)
	close(w.crashed)
	w.cancel()
	<-w.appendDone
	<-w.insertDone
	if w.file != nil {
		w.file.Close()
	}
	w.lock.Close()
}
