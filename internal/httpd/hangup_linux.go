package httpd

import (
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux a long request's connection is watched without a goroutine of
// its own: one epoll instance for the whole process holds every watched
// socket, asking only for the peer's hang-up (EPOLLRDHUP; a reset comes as
// EPOLLHUP or EPOLLERR, which epoll always reports), once (EPOLLONESHOT).
// Bytes a client pipelines do not wake it and stay in the socket for the
// next request. The epoll descriptor is itself waited on through Go's
// poller, so the process spends one parked goroutine on all of them, and a
// thousand open streams hold a thousand goroutines instead of two
// thousand (and no read buffer while they wait).

// hangupWatcher is the process's epoll instance and what it watches.
type hangupWatcher struct {
	ep int
	f  *os.File // ep's, kept open for the process's life
	mu sync.Mutex
	// slots[i] is the connection registered with index i (0 is unused) and
	// the registration's generation; free lists the unused indexes.
	slots  []hangupSlot
	free   []uint32
	broken bool // the poller cannot wait on ep: watch nothing
}

type hangupSlot struct {
	c   *conn
	gen uint32
}

var (
	hangupsOnce sync.Once
	hangups     *hangupWatcher
)

// hangupWatch returns the process's watcher, started on first use; nil if
// it cannot run (the caller then watches with a goroutine).
func hangupWatch() *hangupWatcher {
	hangupsOnce.Do(func() {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := unix.SetNonblock(ep, true); err != nil {
			unix.Close(ep)
			return
		}
		f := os.NewFile(uintptr(ep), "httpd-hangups")
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return
		}
		h := &hangupWatcher{ep: ep, f: f, slots: make([]hangupSlot, 1)}
		go h.run(rc)
		hangups = h
	})
	return hangups
}

// run delivers the hang-ups until the poller fails to wait on the epoll
// descriptor (not expected; the watcher then stops taking connections and
// those it has are never told).
func (h *hangupWatcher) run(rc syscall.RawConn) {
	evs := make([]unix.EpollEvent, 64)
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(fd), evs, 0)
			if err == unix.EINTR {
				continue
			}
			if n <= 0 {
				return false // drained: wait for the poller
			}
			for _, ev := range evs[:n] {
				h.fire(uint32(ev.Fd), uint32(ev.Pad))
			}
		}
	})
	h.mu.Lock()
	h.broken = true
	h.mu.Unlock()
}

// fire tells the connection registered as slot i, generation gen, that its
// client hung up, if that registration is still its current one.
func (h *hangupWatcher) fire(i, gen uint32) {
	h.mu.Lock()
	var c *conn
	if int(i) < len(h.slots) && h.slots[i].gen == gen {
		c = h.slots[i].c
	}
	h.mu.Unlock()
	if c != nil {
		c.hungUp(uint64(i)<<32 | uint64(gen))
	}
}

// add registers c's socket and returns the registration's token (never 0);
// false when c cannot be watched this way.
func (h *hangupWatcher) add(c *conn) (uint64, bool) {
	if h == nil || c.rc == nil {
		return 0, false
	}
	h.mu.Lock()
	if h.broken {
		h.mu.Unlock()
		return 0, false
	}
	var i uint32
	if n := len(h.free); n > 0 {
		i = h.free[n-1]
		h.free = h.free[:n-1]
	} else {
		i = uint32(len(h.slots))
		h.slots = append(h.slots, hangupSlot{})
	}
	s := &h.slots[i]
	s.c = c
	s.gen++
	gen := s.gen
	h.mu.Unlock()

	ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(i), Pad: int32(gen)}
	var err error
	// Control holds the descriptor open: a socket closed meanwhile is not
	// confused with another that took its number.
	if cerr := c.rc.Control(func(fd uintptr) {
		err = unix.EpollCtl(h.ep, unix.EPOLL_CTL_ADD, int(fd), &ev)
	}); cerr != nil {
		err = cerr
	}
	tok := uint64(i)<<32 | uint64(gen)
	if err != nil {
		h.release(tok)
		return 0, false
	}
	return tok, true
}

// remove ends the registration tok of c.
func (h *hangupWatcher) remove(c *conn, tok uint64) {
	// A socket closed already has left the epoll set with its descriptor.
	_ = c.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(h.ep, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	h.release(tok)
}

func (h *hangupWatcher) release(tok uint64) {
	i, gen := uint32(tok>>32), uint32(tok)
	h.mu.Lock()
	if s := &h.slots[i]; s.gen == gen && s.c != nil {
		s.c = nil
		h.free = append(h.free, i)
	}
	h.mu.Unlock()
}
