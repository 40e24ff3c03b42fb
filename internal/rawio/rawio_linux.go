package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a TCP or Unix stream connection read and written with raw
// system calls. Everything but Read and Write (deadlines, Close, the
// addresses) is the wrapped connection's.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	// A Read's and a Write's arguments and results, for the callbacks
	// (made once, so that a call allocates nothing); rmu and wmu keep
	// concurrent Reads (or Writes) from sharing them.
	rmu    sync.Mutex
	rp     []byte
	rn     int
	rerr   syscall.Errno
	readFn func(uintptr) bool

	wmu     sync.Mutex
	one     [1][]byte // Write's buffer, as Writev's one
	wv      [][]byte
	iov     []syscall.Iovec
	wn      int
	werr    syscall.Errno
	writeFn func(uintptr) bool
}

// Wrap returns nc read and written with raw system calls when it is a TCP
// or Unix stream connection, else nc itself.
func Wrap(nc net.Conn) net.Conn {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	if _, unix := nc.(*net.UnixConn); unix && !isStream(rc) {
		return nc // datagram sockets keep their message boundaries
	}
	c := &Conn{Conn: nc, rc: rc}
	c.readFn, c.writeFn = c.readStep, c.writevStep
	return c
}

// isStream reports whether the socket is a stream socket.
func isStream(rc syscall.RawConn) bool {
	typ := -1
	err := rc.Control(func(fd uintptr) {
		typ, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE)
	})
	return err == nil && typ == syscall.SOCK_STREAM
}

// SyscallConn returns the socket's raw connection.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// Read reads as net.Conn's Read does: it waits for the poller while the
// socket has nothing, and returns io.EOF at its end.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.rp, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerr
	c.rp = nil
	c.rmu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", err) // closed, or the deadline passed
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) readStep(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rp[0])), uintptr(len(c.rp)))
		switch e {
		case 0:
			c.rn = int(n)
			ioAcquire(fd)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the poller
		}
		c.rerr = e
		return true
	}
}

// Write writes all of p, waiting for the poller whenever the socket's
// buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	c.one[0] = p
	n, err := c.writevLocked(c.one[:])
	c.one[0] = nil
	c.wmu.Unlock()
	return n, err
}

// Writev writes the buffers in order, in as few system calls as the
// socket takes (one, unless its buffer fills).
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	c.wmu.Lock()
	n, err := c.writevLocked(bufs)
	c.wmu.Unlock()
	return n, err
}

// writevLocked is Writev with wmu held.
func (c *Conn) writevLocked(bufs [][]byte) (int, error) {
	c.wv, c.wn, c.werr = bufs, 0, 0
	err := c.rc.Write(c.writeFn)
	n, errno := c.wn, c.werr
	c.wv = nil
	clear(c.iov)
	c.iov = c.iov[:0]
	return n, c.writeErr(err, errno)
}

// writevStep writes what is left of c.wv (c.wn bytes of it are out).
func (c *Conn) writevStep(fd uintptr) bool {
	ioRelease(fd)
	for {
		c.iov = c.iov[:0]
		skip := c.wn
		for _, b := range c.wv {
			if skip >= len(b) {
				skip -= len(b)
				continue
			}
			b = b[skip:]
			skip = 0
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			c.iov = append(c.iov, v)
		}
		if len(c.iov) == 0 {
			return true
		}
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.iov[0])), uintptr(len(c.iov)))
		switch e {
		case 0:
			c.wn += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.werr = e
		return true
	}
}

func (c *Conn) writeErr(err error, errno syscall.Errno) error {
	switch {
	case err != nil:
		return c.opError("write", err)
	case errno != 0:
		return c.opError("write", os.NewSyscallError("write", errno))
	}
	return nil
}

// opError reports err as net.Conn's methods do. A failure of the raw
// read or write itself (closed, deadline) comes as a *net.OpError
// already: only its Op changes.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
