package provider

import (
	"testing"
	"time"
)

// A call's deadline is never early, at most a 64th of its timeout late, and
// calls that start close together on the same timeout share it.
func TestDeadline(t *testing.T) {
	base := time.Date(2026, 12, 3, 12, 0, 0, 123_456_789, time.UTC)
	for _, timeout := range []time.Duration{1, 63, 64, 100, time.Millisecond, 500 * time.Millisecond,
		time.Second, 90 * time.Second, 600 * time.Second, 6000 * time.Second, 24 * time.Hour} {
		same := 0
		prev := time.Time{}
		for i := range 1000 {
			start := base.Add(time.Duration(i) * timeout / 10000)
			d := Deadline(start, timeout)
			exact := start.Add(timeout)
			if d.Before(exact) {
				t.Fatalf("timeout %v from %v: deadline %v before %v", timeout, start, d, exact)
			}
			if late := d.Sub(exact); late > timeout/64 {
				t.Fatalf("timeout %v: deadline %v late (more than %v)", timeout, late, timeout/64)
			}
			if d.Equal(prev) {
				same++
			}
			prev = d
		}
		// 1000 starts over a tenth of the timeout: buckets of at least a
		// 128th of it hold most of them together (a timeout under 128ns
		// is not rounded).
		if timeout >= 128 && same < 900 {
			t.Errorf("timeout %v: only %d of 1000 deadlines equal to the one before", timeout, same)
		}
	}
	// Starts read from the clock carry monotonic readings, which Equal
	// would compare: deadlines in one bucket must still be equal.
	prev, changes := time.Time{}, 0
	for range 10000 {
		d := Deadline(time.Now(), 600*time.Second)
		if !d.Equal(prev) {
			changes++
		}
		prev = d
	}
	if changes > 2 {
		t.Errorf("10000 deadlines from the clock changed %d times", changes)
	}
	if !Deadline(base, 0).IsZero() || !Deadline(base, -time.Second).IsZero() {
		t.Error("no timeout must give no deadline")
	}
	before1970 := time.Unix(-1000, 5)
	if d := Deadline(before1970, time.Second); d.Before(before1970.Add(time.Second)) || d.Sub(before1970.Add(time.Second)) > time.Second/64 {
		t.Errorf("before 1970: %v", d)
	}
	huge := 200 * 365 * 24 * time.Hour
	if d := Deadline(base, huge); !d.Equal(base.Add(huge)) {
		t.Errorf("a timeout past UnixNano's range is not rounded: %v", d)
	}
}
