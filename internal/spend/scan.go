package spend

import (
	"bytes"
	"io"
)

// A journal segment holds '\n'-terminated lines. A mapped segment (see
// journal_mmap_linux.go) is preallocated, so after its last line come NUL
// bytes, and a crash can leave:
//
//   - a torn line: the start of a line whose copy a kill -9 cut short
//     (followed by NULs), or, after a power loss, a line with a run of NULs
//     where a page never reached the disk;
//   - NUL padding after the last line, or between lines where whole pages
//     were lost.
//
// JSON lines never hold a NUL byte (the encoder escapes it), so NUL marks
// both. A torn line belongs to a response that never completed (its
// record was not yet in the journal when the response's last byte would
// have left), so the replay drops it, counted; padding is skipped.

// lineKind is what nextLine found.
type lineKind int

const (
	lineMore lineKind = iota // no whole line in data yet: read more
	lineOK                   // a line (not yet known to decode)
	lineTorn                 // a fragment of a line, dropped
	linePad                  // NUL padding, skipped
)

// nextLine finds the first item in data, which starts at a line boundary;
// atEOF says no bytes follow data. It returns the bytes the item takes
// (0 only with lineMore) and, for lineOK and lineTorn, the line without
// its '\n'.
func nextLine(data []byte, atEOF bool) (advance int, line []byte, kind lineKind) {
	if len(data) == 0 {
		return 0, nil, lineMore
	}
	if data[0] == 0 {
		i := 0
		for i < len(data) && data[i] == 0 {
			i++
		}
		return i, nil, linePad
	}
	nl := bytes.IndexByte(data, '\n')
	end := len(data)
	if nl >= 0 {
		end = nl
	}
	if z := bytes.IndexByte(data[:end], 0); z >= 0 {
		return z, data[:z], lineTorn // the NULs that follow are padding
	}
	switch {
	case nl == 0:
		return 1, nil, lineTorn // an empty line: nothing of ours writes one
	case nl > 0:
		return nl + 1, data[:nl], lineOK
	case atEOF:
		return len(data), data, lineTorn // cut before its '\n'
	}
	return 0, nil, lineMore
}

// scanLines reads r from its start to size bytes and calls fn for every
// whole line and every torn one, with the offset after it. Buffers grow
// for a long line.
func scanLines(r io.ReaderAt, size int64, fn func(line []byte, kind lineKind, end int64) error) error {
	buf := make([]byte, 256<<10)
	var off int64
	for off < size {
		want := min(int64(len(buf)), size-off)
		k, err := r.ReadAt(buf[:want], off)
		if int64(k) < want && err == nil {
			err = io.ErrUnexpectedEOF
		}
		if k == 0 && err != nil {
			return err
		}
		data := buf[:k]
		atEOF := off+int64(k) >= size || err != nil
		used := 0
		for {
			n, line, kind := nextLine(data[used:], atEOF)
			if kind == lineMore {
				break
			}
			used += n
			if kind != linePad {
				if err := fn(line, kind, off+int64(used)); err != nil {
					return err
				}
			}
		}
		if used == 0 {
			buf = make([]byte, 2*len(buf)) // a line longer than buf
			continue
		}
		off += int64(used)
	}
	return nil
}
