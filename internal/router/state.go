package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Counter names a per-deployment, per-minute counter.
type Counter uint8

// Counters kept per deployment and calendar minute (UTC Unix minute).
const (
	CounterRequests  Counter = iota // requests started (rpm)
	CounterTokens                   // tokens used (tpm)
	CounterFailures                 // failures that count against the deployment
	CounterSuccesses                // successful calls
	numCounters
)

func (c Counter) String() string {
	switch c {
	case CounterRequests:
		return "requests"
	case CounterTokens:
		return "tokens"
	case CounterFailures:
		return "failures"
	case CounterSuccesses:
		return "successes"
	}
	return fmt.Sprintf("counter(%d)", int(c))
}

// addOps name the state operation that adds to each counter.
var addOps = [numCounters]string{"add requests", "add tokens", "add failures", "add successes"}

func (c Counter) op() string {
	if c < numCounters {
		return addOps[c]
	}
	return "add " + c.String()
}

// SampleKind names a latency series.
type SampleKind uint8

// Latency series kept per deployment.
const (
	SampleLatency SampleKind = iota // whole call, non-streamed
	SampleTTFT                      // time to first byte of a stream
	numSampleKinds
)

// Sample is one latency observation.
type Sample struct {
	At time.Time
	D  time.Duration
}

// Snapshot is what a pick needs to know about one deployment.
type Snapshot struct {
	// CooldownUntil is when the deployment's cooldown ends; zero if none.
	CooldownUntil time.Time
	// InFlight is the number of calls running on the deployment.
	InFlight int64
	// Counters of the minute asked for, indexed by Counter.
	Counters [numCounters]int64
	// Samples are the recent latency observations by SampleKind, oldest first.
	Samples [numSampleKinds][]Sample
}

// State holds the router's shared state: cooldowns, per-minute counters,
// in-flight counts and latency samples. Every method is one atomic operation
// that a Redis implementation can also do in one round trip:
//
//	Read         MGET / ZMSCORE / LRANGE in one pipeline (reads need no atomicity)
//	SetCooldown  ZADD cooldowns GT until id     (keeps the later end)
//	Add          MULTI INCRBY key delta; EXPIRE key 120 EXEC
//	AddUpTo      a short Lua script (INCRBY, compare, DECRBY if over)
//	Acquire      a short Lua script (INCR, compare, DECR if over)
//	Release      DECR
//	Observe      MULTI RPUSH key v; LTRIM key -keep -1 EXEC
//
// Cooldowns are stored as absolute end times, never as a TTL that a copy could
// reset, so a cooldown read by another replica or after a restart ends when it
// was meant to.
type State interface {
	// Read returns the snapshots of ids, counters taken from minute.
	Read(ctx context.Context, ids []string, minute int64) ([]Snapshot, error)
	// SetCooldown sets id's cooldown end to the later of the stored end and
	// until, and returns the end now stored.
	SetCooldown(ctx context.Context, id string, until time.Time) (time.Time, error)
	// Add adds delta to id's counter c of minute and returns the new value.
	Add(ctx context.Context, id string, c Counter, minute, delta int64) (int64, error)
	// AddUpTo adds delta to id's counter c of minute only if the result
	// stays at or below limit (limit <= 0: no limit); ok says whether it did.
	AddUpTo(ctx context.Context, id string, c Counter, minute, delta, limit int64) (n int64, ok bool, err error)
	// Acquire takes one in-flight slot of id if fewer than limit are taken
	// (limit <= 0: no limit).
	Acquire(ctx context.Context, id string, limit int64) (bool, error)
	// Release gives back a slot taken by Acquire.
	Release(ctx context.Context, id string) error
	// Observe appends a latency sample to id's series kind, keeping the
	// newest keep samples.
	Observe(ctx context.Context, id string, kind SampleKind, s Sample, keep int) error
}

// local marks a State whose methods never block, so calls need no guard.
type local interface{ nonBlocking() }

// MemoryState is the in-process State.
type MemoryState struct {
	mu   sync.Mutex
	deps map[string]*memDep
}

type memDep struct {
	cooldown time.Time
	inFlight int64
	minute   [numCounters]int64
	counts   [numCounters]int64
	samples  [numSampleKinds][]Sample
}

var (
	_ State = (*MemoryState)(nil)
	_ local = (*MemoryState)(nil)
)

// NewMemoryState returns an empty in-process State.
func NewMemoryState() *MemoryState { return &MemoryState{deps: map[string]*memDep{}} }

func (*MemoryState) nonBlocking() {}

func (m *MemoryState) dep(id string) *memDep {
	d := m.deps[id]
	if d == nil {
		d = &memDep{}
		m.deps[id] = d
	}
	return d
}

// counter returns a pointer to c's value in minute, resetting a stale window.
func (d *memDep) counter(c Counter, minute int64) *int64 {
	if d.minute[c] != minute {
		if minute < d.minute[c] {
			// An older minute than the stored one: count it nowhere.
			var sink int64
			return &sink
		}
		d.minute[c], d.counts[c] = minute, 0
	}
	return &d.counts[c]
}

// Read implements State.
func (m *MemoryState) Read(_ context.Context, ids []string, minute int64) ([]Snapshot, error) {
	return m.readInto(nil, ids, minute), nil
}

// readInto is Read into dst's memory (its sample slices too): the router
// reads with a buffer it reuses.
func (m *MemoryState) readInto(dst []Snapshot, ids []string, minute int64) []Snapshot {
	out := slices.Grow(dst[:0], len(ids))[:len(ids)]
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, id := range ids {
		s := &out[i]
		samples := s.Samples
		*s = Snapshot{}
		d := m.deps[id]
		if d == nil {
			continue
		}
		s.CooldownUntil, s.InFlight = d.cooldown, d.inFlight
		for c := range numCounters {
			if d.minute[c] == minute {
				s.Counters[c] = d.counts[c]
			}
		}
		for k := range numSampleKinds {
			if len(d.samples[k]) > 0 {
				s.Samples[k] = append(samples[k][:0], d.samples[k]...)
			}
		}
	}
	return out
}

// SetCooldown implements State.
func (m *MemoryState) SetCooldown(_ context.Context, id string, until time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dep(id)
	if until.After(d.cooldown) {
		d.cooldown = until
	}
	return d.cooldown, nil
}

// Add implements State.
func (m *MemoryState) Add(_ context.Context, id string, c Counter, minute, delta int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.dep(id).counter(c, minute)
	*p += delta
	return *p, nil
}

// AddUpTo implements State.
func (m *MemoryState) AddUpTo(_ context.Context, id string, c Counter, minute, delta, limit int64) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.dep(id).counter(c, minute)
	if limit > 0 && *p+delta > limit {
		return *p, false, nil
	}
	*p += delta
	return *p, true, nil
}

// Acquire implements State.
func (m *MemoryState) Acquire(_ context.Context, id string, limit int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dep(id)
	if limit > 0 && d.inFlight >= limit {
		return false, nil
	}
	d.inFlight++
	return true, nil
}

// Release implements State.
func (m *MemoryState) Release(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dep(id)
	if d.inFlight > 0 {
		d.inFlight--
	}
	return nil
}

// Observe implements State.
func (m *MemoryState) Observe(_ context.Context, id string, kind SampleKind, s Sample, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dep(id)
	l := append(d.samples[kind], s)
	if keep > 0 && len(l) > keep {
		l = append(l[:0:0], l[len(l)-keep:]...)
	}
	d.samples[kind] = l
	return nil
}

// ErrStateUnavailable is returned (and logged) when the state backend did
// not answer in time; the router then fails open.
var ErrStateUnavailable = errors.New("router: state backend unavailable")

// guard bounds every State call: a call that does not answer within timeout
// fails, and after a failure the backend is left alone for a pause, during
// which calls fail at once. Callers fail open: a request is never held up or
// refused because the state backend is down.
type guard struct {
	st      State
	timeout time.Duration
	pause   time.Duration
	now     func() time.Time
	log     *slog.Logger
	// downUntil is the UnixNano until which calls fail at once.
	downUntil atomic.Int64
	direct    bool
}

func newGuard(st State, timeout, pause time.Duration, now func() time.Time, log *slog.Logger) *guard {
	_, direct := st.(local)
	return &guard{st: st, timeout: timeout, pause: pause, now: now, log: log, direct: direct}
}

// do runs fn against the state within the guard's bounds.
func (g *guard) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if g.direct {
		return fn(ctx)
	}
	if g.now().UnixNano() < g.downUntil.Load() {
		return ErrStateUnavailable
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- fn(cctx)
	}()
	t := time.NewTimer(g.timeout)
	defer t.Stop()
	var err error
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("%s: no answer within %s: %w", op, g.timeout, ErrStateUnavailable)
	case <-ctx.Done():
		// The request ended; the call may finish on its own.
		return ctx.Err()
	}
	if err != nil {
		g.fail(op, err)
	}
	return err
}

func (g *guard) fail(op string, err error) {
	until := g.now().Add(g.pause).UnixNano()
	old := g.downUntil.Load()
	if old < g.now().UnixNano() && g.downUntil.CompareAndSwap(old, until) {
		g.log.Warn("router state backend failed; routing without shared state", "op", op, "err", err, "pause", g.pause)
	}
}
