package procstat

import (
	"os"
	"testing"
	"time"
)

func TestReadMachine(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat here")
	}
	m0, err := ReadMachine()
	if err != nil {
		t.Fatal(err)
	}
	if m0.Total <= 0 || m0.Steal < 0 || m0.Steal > m0.Total {
		t.Fatalf("ReadMachine = %+v", m0)
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	m1, err := ReadMachine()
	if err != nil {
		t.Fatal(err)
	}
	if m1.Total <= m0.Total {
		t.Fatalf("no CPU time passed: %+v then %+v", m0, m1)
	}
	if p := m0.StealPct(m1); p < 0 || p > 100 {
		t.Fatalf("StealPct = %v", p)
	}
}

func TestStealPct(t *testing.T) {
	for _, tc := range []struct {
		a, b Machine
		want float64
	}{
		{Machine{Total: 100, Steal: 10}, Machine{Total: 300, Steal: 60}, 25},
		{Machine{Total: 100, Steal: 10}, Machine{Total: 100, Steal: 10}, 0},
		{Machine{Total: 0, Steal: 0}, Machine{Total: 50, Steal: 0}, 0},
	} {
		if got := tc.a.StealPct(tc.b); got != tc.want {
			t.Errorf("%+v.StealPct(%+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
