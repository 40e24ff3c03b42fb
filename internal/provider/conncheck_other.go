//go:build !unix

package provider

// connCheck: without a portable non-blocking read, idle connections are
// reused unchecked (a call that meets a closed one is sent again).
const connCheck = false

// awaitInRead: requests are written, then read, as usual (see conn.send).
const awaitInRead = false

func peekIdle(uintptr) bool { return true }
