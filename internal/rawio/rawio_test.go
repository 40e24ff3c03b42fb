package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pair returns a connected pair over network ("tcp" or "unix"): a, the
// dialed end, wrapped; b, the accepted end, as it is.
func pair(t *testing.T, network string) (a, b net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- c
	}()
	d, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	a = Wrap(d)
	t.Cleanup(func() { a.Close(); b.Close() })
	// A regression that leaves a call waiting fails the test, not hangs it.
	a.SetDeadline(time.Now().Add(20 * time.Second))
	b.SetDeadline(time.Now().Add(20 * time.Second))
	return a, b
}

func wrapped(t *testing.T, c net.Conn) *Conn {
	t.Helper()
	rc, ok := c.(*Conn)
	if !ok {
		if runtime.GOOS != "linux" {
			t.Skip("raw system calls are used on Linux only")
		}
		t.Fatalf("Wrap returned %T, want *rawio.Conn", c)
	}
	return rc
}

// TestReadWrite: bytes go both ways in order, larger than the socket
// buffers (so writes wait for the poller), for TCP and Unix sockets; the
// end of the stream reads as io.EOF.
func TestReadWrite(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			a, b := pair(t, network)
			wrapped(t, a)
			want := make([]byte, 8<<20)
			for i := range want {
				want[i] = byte(i * 7)
			}
			// a writes to b while b echoes back, all larger than the buffers.
			errc := make(chan error, 2)
			go func() {
				_, err := io.Copy(b, b)
				b.(interface{ CloseWrite() error }).CloseWrite()
				errc <- err
			}()
			go func() {
				n, err := a.Write(want)
				if err == nil && n != len(want) {
					err = io.ErrShortWrite
				}
				if err == nil {
					err = a.(*Conn).Conn.(interface{ CloseWrite() error }).CloseWrite()
				}
				errc <- err
			}()
			got, err := io.ReadAll(a) // ends at io.EOF
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, not what was written (%d)", len(got), len(want))
			}
			if n, err := a.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Fatalf("read after the end: %d, %v; want 0, io.EOF", n, err)
			}
		})
	}
}

// TestWritev: the buffers arrive in order, empty ones skipped, also when
// the socket takes them in several pieces.
func TestWritev(t *testing.T) {
	a, b := pair(t, "tcp")
	c := wrapped(t, a)
	big := bytes.Repeat([]byte("0123456789"), 1<<20)
	bufs := [][]byte{[]byte("head:"), nil, big, {}, []byte(":tail")}
	want := bytes.Join(bufs, nil)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(b) // to the end: a Writev that wrote too much shows
		got <- b
	}()
	n, err := c.Writev(bufs)
	if err != nil || n != len(want) {
		t.Fatalf("Writev: %d, %v; want %d, nil", n, err, len(want))
	}
	if n, err := c.Writev([][]byte{nil, {}}); n != 0 || err != nil {
		t.Fatalf("Writev of empty buffers: %d, %v", n, err)
	}
	c.Conn.(*net.TCPConn).CloseWrite()
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("received %d bytes, not the buffers in order (%d)", len(g), len(want))
	}
}

// TestDeadline: a read with nothing to read ends at its deadline with a
// timeout, as net.Conn's does, and the connection still works after.
func TestDeadline(t *testing.T) {
	a, b := pair(t, "tcp")
	wrapped(t, a)
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := a.Read(make([]byte, 10))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("err %#v, want a *net.OpError of op read", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("returned after %v, before the deadline", d)
	}
	a.SetReadDeadline(time.Time{})
	b.Write([]byte("x"))
	buf := make([]byte, 10)
	if n, err := a.Read(buf); n != 1 || err != nil || buf[0] != 'x' {
		t.Fatalf("read after the timeout: %d, %v", n, err)
	}
}

// TestCloseUnblocks: closing the connection ends a read waiting on it
// with net.ErrClosed; reads and writes after Close fail the same way.
func TestCloseUnblocks(t *testing.T) {
	a, _ := pair(t, "tcp")
	wrapped(t, a)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the blocked read")
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestReset: a peer that resets the connection makes the read fail with
// ECONNRESET in a *net.OpError, and writes then fail too.
func TestReset(t *testing.T) {
	a, b := pair(t, "tcp")
	wrapped(t, a)
	b.(*net.TCPConn).SetLinger(0)
	b.Close()
	_, err := a.Read(make([]byte, 10))
	var oe *net.OpError
	if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("read: %v, want a read error with ECONNRESET", err)
	}
	var werr error
	for range 3 { // the first write after a reset may still be taken
		if _, werr = a.Write([]byte("x")); werr != nil {
			break
		}
	}
	if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
		t.Fatalf("write after reset: %v, want EPIPE or ECONNRESET", werr)
	}
}

// TestConcurrent: one goroutine reads while another writes, many times
// (run with -race).
func TestConcurrent(t *testing.T) {
	a, b := pair(t, "tcp")
	wrapped(t, a)
	go io.Copy(b, b)
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := a.Write([]byte{byte(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := 0
	buf := make([]byte, 64)
	for got < n {
		k, err := a.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range buf[:k] {
			if c != byte(got) {
				t.Fatalf("byte %d is %d", got, c)
			}
			got++
		}
	}
	wg.Wait()
}

// TestWrapOthers: what is not a stream socket is returned as it is.
func TestWrapOthers(t *testing.T) {
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if Wrap(p1) != p1 {
		t.Fatal("a net.Pipe end was wrapped")
	}
	dir := t.TempDir()
	u, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "g"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if Wrap(u) != net.Conn(u) {
		t.Fatal("a datagram socket was wrapped")
	}
}

// TestSyscallConn: the wrapped connection gives its socket's RawConn
// (the upstream client checks idle connections through it).
func TestSyscallConn(t *testing.T) {
	a, _ := pair(t, "tcp")
	c := wrapped(t, a)
	rc, err := c.SyscallConn()
	if err != nil || rc == nil {
		t.Fatalf("SyscallConn: %v, %v", rc, err)
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil || fd == 0 {
		t.Fatalf("Control: fd %d, %v", fd, err)
	}
}

// TestOrderBySocket: a goroutine that writes to memory and then to the
// connection happens before one that reads that from the other end and
// then the memory, under -race too (as with net.Conn).
func TestOrderBySocket(t *testing.T) {
	a, b := pair(t, "tcp")
	wrapped(t, a)
	bw := Wrap(b)
	var shared int
	done := make(chan int)
	go func() {
		buf := make([]byte, 1)
		if _, err := bw.Read(buf); err != nil {
			t.Error(err)
		}
		done <- shared // ordered after the write below only through the socket
	}()
	shared = 42
	if _, err := a.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if v := <-done; v != 42 {
		t.Fatalf("read %d", v)
	}
}
