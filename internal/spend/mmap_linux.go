//go:build linux

package spend

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapSegment preallocates f to size bytes (fallocate: the blocks exist, so
// a store into the mapping cannot fault for want of disk space) and maps
// it shared: a store into the mapping is in the page cache at once and
// survives the process. The mapping never reaches past the allocation.
func mapSegment(f *os.File, size int64) ([]byte, error) {
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return nil, fmt.Errorf("fallocate: %w", err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return m, nil
}

// syncMapped writes m[from:to) to stable storage (msync of the pages it
// covers) and drops the whole pages of m[done:to) from the process's
// mapping (the data stays in the page cache and the file), so the journal
// adds at most a page or two to the resident set.
func syncMapped(m []byte, done, from, to int64) error {
	page := int64(os.Getpagesize())
	if lo := from &^ (page - 1); from < to {
		if err := unix.Msync(m[lo:to], unix.MS_SYNC); err != nil {
			return fmt.Errorf("msync: %w", err)
		}
	}
	if lo, hi := done&^(page-1), to&^(page-1); hi > lo {
		_ = unix.Madvise(m[lo:hi], unix.MADV_DONTNEED)
	}
	return nil
}

func unmapSegment(m []byte) error { return unix.Munmap(m) }

// prefault makes m's pages writable in the process ahead of the appends
// (MADV_POPULATE_WRITE, Linux 5.14): a page's first store would otherwise
// take a fault on the request path, one per page. Best effort.
func prefault(m []byte) { _ = unix.Madvise(m, unix.MADV_POPULATE_WRITE) }
