//go:build unix

package provider

import "syscall"

// connCheck: idle connections are checked before reuse.
const connCheck = true

// awaitInRead: a request is written from inside a raw read, which then
// waits for the reply (see conn.send). The poller's readiness is edge
// triggered and reset when a read begins, which is what makes this sound
// here; other systems write and read as usual.
const awaitInRead = true

// peekIdle reads from an idle connection's non-blocking socket: it is open
// when there is nothing to read yet. End of file means the upstream closed
// it; data or any other error make it unusable too.
func peekIdle(fd uintptr) bool {
	var b [1]byte
	_, err := syscall.Read(int(fd), b[:])
	return err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}
