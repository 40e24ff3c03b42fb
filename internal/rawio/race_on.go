//go:build race && linux

package rawio

import "syscall"

// Under the race detector, every read and write also tells it what the
// syscall package tells it: a write happens before the reads that follow
// it, anywhere in the process, as if the bytes carried that order (they
// do, through the kernel). A zero-length read or write of the socket does
// that and changes nothing, so code that orders goroutines by a socket
// (one end of it plain net.Conn, perhaps) keeps that order under -race.

func ioRelease(fd uintptr) { _, _ = syscall.Write(int(fd), nil) }
func ioAcquire(fd uintptr) { _, _ = syscall.Read(int(fd), nil) }
