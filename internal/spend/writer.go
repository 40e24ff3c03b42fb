package spend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/switchyard/switchyard/internal/record"
)

// The Writer gets records from the request path into the Store.
//
//	RecordDurable ──copy under a lock──► journal segment (mapped) ──pread──► inserter ──tx──► Store
//	Record ──chan (QueueSize)──► appender ──┘   msync ≤ 2×SyncInterval         batch ≤ BatchSize / FlushInterval
//
// RecordDurable encodes the record as one line (appendLine) on the
// caller's goroutine and copies it into the current journal segment under
// a short lock. A segment is a file preallocated with fallocate and mapped
// shared, so the copy is in the page cache when RecordDurable returns: it
// survives kill -9 of the process, without a system call per record.
// Where mapping is not available (not Linux, or a file system that
// refuses fallocate or mmap) the line goes in with one write() instead, as
// every line did before. Record (the non-blocking Sink) queues the line to
// the appender goroutine, which appends queued lines the same way; when
// the queue is full the record is dropped and counted (Dropped). The
// appender also msyncs (or fsyncs), every SyncInterval, the lines the
// inserter has not committed, so:
//
//	a record is in the journal file (page cache: survives kill -9) when
//	RecordDurable returns, and on stable storage (survives power loss)
//	within two SyncIntervals (400 ms by default): committed to the
//	database, or synced at the first tick that finds it uncommitted and
//	appended before the previous tick.
//
// Every journaled line is also handed to the inserter in memory: the
// append pushes the record, with its line's journal position, onto a
// bounded hand-off buffer (mem). The inserter takes a record from there
// when it is the next one the journal holds for it, and reads the journal
// back otherwise: after a restart (replay) and when the buffer overflowed
// (a slow or unreachable database). It reads the lines of the records it
// took from the segment file (pread; stores that keep journal lines, as
// SQLite's, insert them as they are). The journal stays the queue to the
// database, so an outage costs disk, not memory: the inserter holds at
// most one batch plus the bounded buffer. It inserts batches of BatchSize
// or every FlushInterval in one transaction, and deletes a segment once
// all of it is committed.
//
// Each journal directory has an id (file journal-id), and each commit
// stores, in the same transaction as the records, the journal position
// (segment and offset) it reaches (positionedStore). A new Writer reads
// the position back and replays the journal from there, so a crash at any
// point (before a commit, between a commit and the deletion of the
// segments it completed) leaves every journaled record in the database
// exactly once after the next start. A line that a crash cut short (a
// torn line) belongs to a response that never completed; the replay drops
// it and counts it (Corrupt). NewWriter replays in the background, before
// new records.
//
// While the database is down the inserter retries with exponential backoff,
// Healthy reports "spend log database unreachable, N records waiting", and
// the journal grows up to MaxJournalBytes (then records are dropped and
// counted). A batch the database rejects while it answers Ping is split
// until the bad record is found; that record is dropped after three
// attempts (Rejected), so one poison record cannot stall the log.
type Writer struct {
	store Store
	ps    positionedStore // store, when it commits journal positions
	dir   string
	opts  WriterOptions
	log   *slog.Logger
	lock  *os.File

	journalID   string // this journal's id, in the positions committed
	prevJournal string // the directory's previous id, whose position can go
	replay      bool   // segments of journalID were left by a previous process
	legacyUpTo  uint64 // segments up to this one were written without positions

	queue chan queued

	closed    atomic.Bool
	dropped   atomic.Uint64
	rejected  atomic.Uint64
	corrupt   atomic.Uint64
	journaled atomic.Uint64
	committed atomic.Uint64
	backlog   atomic.Int64 // records in the journal, not yet committed

	// mu guards the journal: appends (RecordDurable and the appender), the
	// segment list, the hand-off buffer; the inserter takes it briefly.
	mu      sync.Mutex
	segs    []*segment // by seq
	cur     *segment   // appended to; nil after a failed rotation or Close
	retired []*segment // sealed by an append or Close, for syncLoop to sync and close
	dirty   bool       // appended since the last sync
	newSeg  bool       // a segment was created since the last directory sync
	mapped  bool       // segments are mapped (else written with write())
	lastErr error
	nextSeq uint64
	// committedTo is where the inserter's last commit ended.
	committedTo journalPos
	// syncs counts the sync passes that made lines durable (tests).
	syncs      atomic.Int64
	journalLen int64 // bytes of lines in all segments

	// mem[memHead:] are journaled records not yet taken by the inserter, in
	// journal order; bounded by memMax records and memMaxBytes of journal
	// lines. A record that does not fit is left for the inserter to read
	// back from the journal.
	mem      []memRec
	memHead  int
	memBytes int64

	dataReady chan struct{} // appends → inserter
	prefaultC chan struct{} // appends → appendLoop: prefault the current segment further
	recycleC  chan string   // inserter → appendLoop: a committed segment to zero for reuse
	spare     string        // a zeroed segment file ready for reuse (under mu)
	// appendExited: appendLoop takes no more segments to recycle (under mu).
	appendExited bool

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
	SyncInterval    time.Duration // msync/fsync tick: a line is on stable storage within two; 200ms
	BatchSize       int           // records per insert transaction; 2000
	FlushInterval   time.Duration // longest wait before a partial batch is inserted; 1s
	SegmentBytes    int64         // journal segment size (preallocated when mapped); 16 MiB
	MaxJournalBytes int64         // journal bound while the database is down; 1 GiB
	RetryMin        time.Duration // insert retry backoff; 100ms
	RetryMax        time.Duration // 10s
	InsertTimeout   time.Duration // per insert attempt; 30s
	Logger          *slog.Logger  // slog.Default()
	// AppendDelay holds each append of queued (Record) lines back, never
	// RecordDurable's (fault injection for the crash test: it widens the
	// window a non-durable Record would lose).
	AppendDelay time.Duration

	idlePoll   time.Duration // how often an idle inserter looks anyway; FlushInterval
	writeOnly  bool          // never map segments (tests of the write() path)
	failMap    bool          // mapping a segment fails, as a file system that refuses (tests)
	memRecords int           // bound of the hand-off buffer; 16 × BatchSize, at least 8192
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
		o.BatchSize = 2000
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
	if o.memRecords <= 0 {
		o.memRecords = max(16*o.BatchSize, 8192)
	}
	def(&o.RetryMin, 100*time.Millisecond)
	def(&o.RetryMax, 10*time.Second)
	def(&o.InsertTimeout, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// queued is a record on its way to the journal: its line (a pooled
// buffer, returned once written) and the snapshot the line encodes.
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
	size   int64 // bytes of lines (a loaded segment: up to its last non-NUL byte)
	lines  int64 // whole lines, counted when a previous process's segment is loaded
	sealed bool  // no more appends

	// The appenders' handle, for a segment of this process: f, and m when
	// mapped (m's length is the allocation). Written through under mu;
	// synced, unmapped and closed by syncLoop alone, once retired.
	f      *os.File
	m      []byte
	synced int64 // bytes on stable storage (syncLoop's)
	mark   int64 // size at syncLoop's previous tick (syncLoop's)
	// m[:ready] is prefaulted; prefaulting says appendLoop was asked for
	// more (both under mu). touch is held while pages past ready are
	// being touched: appendLoop takes it under mu and touches without
	// mu; an append that overtakes ready takes it (under mu) before it
	// writes there.
	ready       int64
	prefaulting bool
	touch       sync.Mutex
	recyclable  bool // a mapped segment of SegmentBytes: reused once committed
}

// prefaultAhead is how far ahead of the appends a mapped segment is
// prefaulted.
const prefaultAhead = 256 << 10

const segPrefix, segSuffix = "spend-", ".jsonl"

func segName(seq uint64) string { return fmt.Sprintf("%s%020d%s", segPrefix, seq, segSuffix) }

// journalIDFile names the journal's id in its directory.
const journalIDFile = "journal-id"

// NewWriter opens (creating) the journal in journalDir, takes its lock,
// and starts the appender and the inserter; records a previous process left
// in the journal are inserted first. A store that commits journal
// positions (the ones Open returns) makes the replay skip what was
// committed; with another Store, a replay inserts the records of every
// segment left, committed or not, and relies on the store to skip the ones
// it has.
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
		queue:     make(chan queued, opts.QueueSize),
		mem:       make([]memRec, 0, opts.memRecords),
		mapped:    !opts.writeOnly,
		dataReady: make(chan struct{}, 1),
		prefaultC: make(chan struct{}, 1),
		recycleC:  make(chan string, 1),
		ctx:       ctx, cancel: cancel,
		stopAppend: make(chan struct{}), appendDone: make(chan struct{}),
		stopInsert: make(chan struct{}), insertDone: make(chan struct{}),
		crashed: make(chan struct{}),
	}
	w.ps, _ = store.(positionedStore)
	fail := func(err error) (*Writer, error) {
		cancel()
		lock.Close()
		return nil, err
	}
	_ = os.Remove(filepath.Join(journalDir, spareName)) // its size may be an old SegmentBytes
	if err := w.loadSegments(); err != nil {
		return fail(err)
	}
	if err := w.loadJournalID(); err != nil {
		return fail(fmt.Errorf("spend journal: %w", err))
	}
	w.mu.Lock()
	err = w.openSegmentLocked(0)
	w.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	go w.appendLoop()
	go w.insertLoop()
	return w, nil
}

// loadJournalID reads the journal's id; a journal without segments (or
// without an id: written by an earlier version) gets a new one, so that
// segment numbers, which restart after an empty journal, never meet a
// position committed for older segments.
func (w *Writer) loadJournalID() error {
	p := filepath.Join(w.dir, journalIDFile)
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	old := strings.TrimSpace(string(b))
	if old != "" && len(w.segs) > 0 {
		w.journalID, w.replay = old, true
		return nil
	}
	if old == "" && len(w.segs) > 0 {
		w.legacyUpTo = w.segs[len(w.segs)-1].seq
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	w.journalID, w.prevJournal = "j-"+hex.EncodeToString(id[:]), old
	w.replay = len(w.segs) > 0
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(w.journalID + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	return err
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
		n, end, err := countLines(p, -1)
		if err != nil {
			return fmt.Errorf("spend journal: %w", err)
		}
		lines += n
		w.segs = append(w.segs, &segment{seq: seq, path: p, size: end, lines: n, sealed: true})
		w.journalLen += end
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

// countLines counts the whole lines of the segment at path in its first
// limit bytes (all of it when limit < 0), and returns the offset after its
// last non-NUL byte (its end without padding).
func countLines(path string, limit int64) (n, end int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	if limit < 0 {
		fi, err := f.Stat()
		if err != nil {
			return 0, 0, err
		}
		limit = fi.Size()
	}
	err = scanLines(f, limit, func(_ []byte, kind lineKind, off int64) error {
		if kind == lineOK {
			n++
		}
		end = off
		return nil
	})
	return n, end, err
}

// openSegmentLocked starts a new segment for appends, with room for need
// bytes at least. Called with mu held.
func (w *Writer) openSegmentLocked(need int64) error {
	seq := w.nextSeq
	w.nextSeq++
	p := filepath.Join(w.dir, segName(seq))
	page := int64(os.Getpagesize())
	size := max(w.opts.SegmentBytes, need+page-1) &^ (page - 1)
	var f *os.File
	if sp := w.spare; w.mapped && sp != "" && size == w.opts.SegmentBytes {
		// A committed segment, zeroed: its pages are allocated on disk
		// and likely in the page cache, so appends fault far less.
		w.spare = ""
		if err := os.Rename(sp, p); err == nil {
			f, _ = os.OpenFile(p, os.O_RDWR, 0)
		}
	}
	if f == nil {
		var err error
		if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600); err != nil {
			return fmt.Errorf("spend journal: %w", err)
		}
	}
	s := &segment{seq: seq, path: p, f: f}
	if w.mapped {
		m, err := mapSegment(f, size)
		if err == nil && w.opts.failMap {
			_ = unmapSegment(m)
			m, err = nil, errors.New("mapping refused (test)")
		}
		if err == nil {
			s.m = m
			s.recyclable = size == w.opts.SegmentBytes
		} else {
			w.mapped = false
			w.log.Warn("spend journal: cannot map segments; appending with write() instead", "err", err)
			if err := f.Truncate(0); err != nil {
				f.Close()
				os.Remove(p)
				return fmt.Errorf("spend journal: %w", err)
			}
		}
	}
	w.segs = append(w.segs, s)
	w.cur = s
	w.newSeg = true
	return nil
}

// spareName names a committed segment being made ready for reuse.
const spareName = "spare.tmp"

// recycle hands a fully committed segment to appendLoop for reuse, or
// deletes it.
func (w *Writer) recycle(s *segment) {
	w.mu.Lock()
	sent := false
	if s.recyclable && !w.appendExited {
		select {
		case w.recycleC <- s.path:
			sent = true
		default:
		}
	}
	w.mu.Unlock()
	if sent {
		return
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		w.log.Warn("spend journal: remove committed segment", "err", err)
	}
}

// makeSpare turns the committed segment at p into the spare: renamed out
// of the segments' names first (a crash then leaves no stale lines to
// replay), zeroed with write() (no fault per page) and synced, so that
// after a power loss it holds no old line either.
func (w *Writer) makeSpare(p string) {
	w.sync() // closes the segment's mapping if it is still open
	w.mu.Lock()
	have := w.spare != ""
	w.mu.Unlock()
	tmp := filepath.Join(w.dir, spareName)
	if have || os.Rename(p, tmp) != nil {
		_ = os.Remove(p)
		return
	}
	err := zeroFile(tmp, w.opts.SegmentBytes)
	if err != nil {
		w.log.Warn("spend journal: zero a segment for reuse", "err", err)
		_ = os.Remove(tmp)
		return
	}
	w.mu.Lock()
	w.spare = tmp
	w.mu.Unlock()
}

func zeroFile(p string, size int64) error {
	zeros := make([]byte, 256<<10)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		return fmt.Errorf("segment %s: unexpected size", p)
	}
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// askPrefault asks appendLoop to prefault the current segment further
// when the appends come near the end of what is. Called with mu held.
func (w *Writer) askPrefault() {
	s := w.cur
	if s.m == nil || s.prefaulting || s.ready >= int64(len(s.m)) || s.size+prefaultAhead/2 < s.ready {
		return
	}
	s.prefaulting = true
	w.signal(w.prefaultC)
}

// prefault prefaults the current segment up to prefaultAhead past its
// appends, and touches each page of that from this process: in a virtual
// machine with shadow page tables the first store into a page costs
// microseconds even after the kernel has mapped it, and here it is paid
// off the request path and outside mu. Only appendLoop calls it (it alone
// unmaps).
func (w *Writer) prefault() {
	w.mu.Lock()
	s := w.cur
	if s == nil || s.m == nil {
		w.mu.Unlock()
		return
	}
	from := s.ready
	to := min(int64(len(s.m)), max(from, s.size)+prefaultAhead)
	s.touch.Lock() // under mu: no append is past ready, so none is in [from, to)
	w.mu.Unlock()
	if to > from {
		prefault(s.m[from:to])
		touchPages(s.m, from, to)
	}
	s.touch.Unlock()
	w.mu.Lock()
	s.ready, s.prefaulting = max(s.ready, to), false
	w.mu.Unlock()
}

// touchPages stores into each page of m that starts in [from, to),
// leaving its bytes as they are (an atomic add of 0).
func touchPages(m []byte, from, to int64) {
	page := int64(os.Getpagesize())
	for p := (from + page - 1) &^ (page - 1); p < to && p+4 <= int64(len(m)); p += page {
		atomic.AddUint32((*uint32)(unsafe.Pointer(&m[p])), 0)
	}
}

// sealLocked ends appends to the current segment; syncLoop syncs and
// closes it, the inserter deletes it once its records are committed.
// Called with mu held.
func (w *Writer) sealLocked() {
	if w.cur == nil {
		return
	}
	w.cur.sealed = true
	w.retired = append(w.retired, w.cur)
	w.cur = nil
	w.signal(w.dataReady)
}

// Record implements record.Sink. It never blocks: the record is encoded
// here (a snapshot: the caller may reuse r afterwards) and queued, or
// dropped and counted when the queue is full or the Writer closed.
func (w *Writer) Record(r *record.Record) { w.record(r) }

// RecordDurable is Record that returns only once the record's line is in
// the journal file (in the page cache: it survives kill -9 of this
// process), or was dropped. The server calls it before the last byte of a
// response goes out, so every response a client saw has its record. The
// line reaches stable storage within two SyncIntervals like every other
// line.
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
	items := [1]queued{{line: lb, rec: r}}
	w.mu.Lock()
	if w.closed.Load() {
		w.mu.Unlock()
		putLineBuf(lb)
		w.dropped.Add(1)
		return
	}
	w.appendLocked(lb.b, items[:])
	w.mu.Unlock()
	putLineBuf(lb)
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
// the replay needs one. The copy comes from recordPool and goes back once
// committed (a Store does not keep the records it is given).
func snapshot(r *record.Record) *record.Record {
	c := recordPool.Get().(*record.Record)
	*c = *r
	c.Tags = slices.Clone(r.Tags)
	if c.ID == "" {
		c.ID = NewID()
	}
	return c
}

var recordPool = sync.Pool{New: func() any { return new(record.Record) }}

func releaseRecords(recs []*record.Record) {
	for i, r := range recs {
		*r = record.Record{}
		recordPool.Put(r)
		recs[i] = nil
	}
}

// appendLocked appends the lines of items (buf is their concatenation) to
// the current segment, starting a new one when they do not fit, and
// publishes them, in the journal and in memory. Called with mu held.
func (w *Writer) appendLocked(buf []byte, items []queued) bool {
	n := int64(len(items))
	size := int64(len(buf))
	if w.journalLen+size > w.opts.MaxJournalBytes {
		w.dropped.Add(uint64(n))
		w.log.Warn("spend journal full: dropping records", "records", n, "max_bytes", w.opts.MaxJournalBytes)
		return false
	}
	if w.cur == nil || !w.fits(size) {
		w.sealLocked()
		if err := w.openSegmentLocked(size); err != nil {
			w.dropped.Add(uint64(n))
			w.log.Warn("spend journal: dropping records", "records", n, "err", err)
			return false
		}
	}
	cur := w.cur
	if cur.m != nil {
		if end := cur.size + size; end > cur.ready {
			// The appends overtook appendLoop's prefaulting: prefault a
			// little here, cheaper than a fault per page.
			page := int64(os.Getpagesize())
			to := min(int64(len(cur.m)), (end+16*page-1)&^(page-1))
			cur.touch.Lock() // appendLoop may be touching these pages
			prefault(cur.m[cur.ready:to])
			cur.ready = to
			cur.touch.Unlock()
		}
		copy(cur.m[cur.size:], buf)
		if cur.size+size+prefaultAhead/2 >= cur.ready {
			w.askPrefault()
		}
	} else if _, err := cur.f.WriteAt(buf, cur.size); err != nil {
		// Cut a torn tail so the next append starts on a line boundary.
		_ = cur.f.Truncate(cur.size)
		w.dropped.Add(uint64(n))
		w.log.Warn("spend journal: write failed, dropping records", "records", n, "err", err)
		return false
	}
	w.pushMem(cur.seq, cur.size, items)
	cur.size += size
	w.journalLen += size
	w.dirty = true
	w.journaled.Add(uint64(n))
	// Wake the inserter when it may be idle (nothing was waiting: it has
	// no batch to flush) or a batch is full; in between it holds a partial
	// batch and its flush timer runs. Every record is counted after it is
	// visible to the inserter, and the inserter subtracts committed ones
	// before it looks again, so the record that finds the count at 0 is
	// one it has not seen. (Were the count off, an idle inserter still
	// looks every FlushInterval.)
	if was := w.backlog.Add(n) - n; was == 0 || was+n >= int64(w.opts.BatchSize) {
		w.signal(w.dataReady)
	}
	return true
}

// fits reports whether size more bytes go into the current segment: a
// mapped one takes what its allocation holds; a written one grows up to
// SegmentBytes (its last append may pass it).
func (w *Writer) fits(size int64) bool {
	if w.cur.m != nil {
		return w.cur.size+size <= int64(len(w.cur.m))
	}
	return w.cur.size < w.opts.SegmentBytes
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

func (w *Writer) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// appendLoop appends queued records and syncs the journal every
// SyncInterval.
func (w *Writer) appendLoop() {
	defer close(w.appendDone)
	defer func() {
		w.mu.Lock()
		w.appendExited = true
		spare := w.spare
		w.spare = ""
		w.mu.Unlock()
		for {
			select {
			case p := <-w.recycleC:
				_ = os.Remove(p)
				continue
			default:
			}
			break
		}
		if spare != "" {
			_ = os.Remove(spare)
		}
	}()
	tick := time.NewTicker(w.opts.SyncInterval)
	defer tick.Stop()
	var buf []byte
	var items []queued
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
		w.mu.Lock()
		w.appendLocked(buf, items)
		w.mu.Unlock()
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
		case <-tick.C:
			w.sync()
		case <-w.prefaultC:
			w.prefault()
		case p := <-w.recycleC:
			w.makeSpare(p)
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
			w.mu.Lock()
			w.sealLocked()
			w.mu.Unlock()
			w.sync()
			return
		}
	}
}

// sync makes what was appended durable: msync (or fsync) of the current
// segment's new lines, a final sync and close of the segments sealed
// since, and an fsync of the directory after a segment was created. Only
// appendLoop calls it, so a mapping is never unmapped while synced.
//
// Lines the inserter has committed are on stable storage in the database
// already: they are not synced again (the kernel writes those pages back
// in its time, or they are zeroed for reuse first).
func (w *Writer) sync() {
	w.mu.Lock()
	cur, dirty, newSeg, committed := w.cur, w.dirty, w.newSeg, w.committedTo
	var size int64
	if cur != nil {
		size = cur.size
	}
	retired := w.retired
	w.retired, w.dirty, w.newSeg = nil, false, false
	w.mu.Unlock()
	for _, s := range retired {
		w.syncSegment(s, s.size, committed)
		closeSegment(s)
	}
	if cur != nil && (dirty || cur.mark > cur.synced) {
		// The lines appended before the previous tick: the inserter
		// usually commits a line sooner, and then it is never synced,
		// which spares the page its write-protect fault and TLB flush
		// (an msync cleans every page it writes back).
		to := min(cur.mark, size)
		cur.mark = size
		w.syncSegment(cur, to, committed)
	}
	if newSeg {
		if err := syncDir(w.dir); err != nil {
			w.log.Warn("spend journal: fsync directory", "err", err)
		}
	}
}

func (w *Writer) syncSegment(s *segment, to int64, committed journalPos) {
	if to <= s.synced {
		return
	}
	from := s.synced
	switch {
	case committed.seq > s.seq:
		from = to
	case committed.seq == s.seq:
		from = min(max(from, committed.off), to)
	}
	var err error
	if s.m != nil {
		err = syncMapped(s.m, s.synced, from, to)
	} else if from < to {
		err = s.f.Sync()
	}
	if err != nil {
		w.log.Warn("spend journal: sync", "err", err)
		return
	}
	if from < to {
		w.syncs.Add(1)
	}
	s.synced = to
}

func closeSegment(s *segment) {
	if s.m != nil {
		_ = unmapSegment(s.m)
		s.m = nil
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
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
// final sync, no commit; what was written stays in the journal (a mapped
// segment's lines are in the page cache, as after a kill).
func (w *Writer) crash() {
	w.closed.Store(true)
	close(w.crashed)
	w.cancel()
	<-w.appendDone
	<-w.insertDone
	w.mu.Lock()
	for _, s := range w.retired {
		closeSegment(s)
	}
	if w.cur != nil {
		closeSegment(w.cur)
	}
	w.mu.Unlock()
	w.lock.Close()
}
