//go:build !linux

package httpd

// hangupWatcher watches nothing here: every long request's connection is
// watched by a goroutine that reads it (see conn.watch).
type hangupWatcher struct{}

func hangupWatch() *hangupWatcher { return nil }

func (h *hangupWatcher) add(*conn) (uint64, bool) { return 0, false }

func (h *hangupWatcher) remove(*conn, uint64) {}
