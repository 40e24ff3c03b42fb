// Package rawio reads and writes stream sockets with raw system calls.
//
// A Go program's read or write goes through the runtime's system call
// bookkeeping (entersyscall, exitsyscall): it marks the goroutine's P as
// in a system call, so that the runtime's monitor thread (sysmon) can hand
// the P to another thread should the call block, and it wakes that monitor
// when every P was idle. A socket the runtime polls never blocks, so for
// it this bookkeeping buys nothing. Yet it costs on every call, and most
// on a virtual machine: each wake of the monitor is a futex wake-up, and
// the monitor then polls every 20 µs until the process is idle again. A
// gateway waits between requests, so that is nearly every request.
//
// Conn does the same reads and writes as net.Conn's, through
// syscall.RawConn: it waits for the runtime's poller exactly as net.Conn
// does (deadlines included), only the system calls themselves are raw.
// On systems other than Linux, Wrap returns the connection as it is.
package rawio
