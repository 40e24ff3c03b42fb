// Package procstat reads a process's CPU time and memory from /proc.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ClockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux the benchmark runs on).
const ClockTick = 10 * time.Millisecond

// CPU is the user plus system time the process (all its threads, live and
// exited) has used, from /proc/PID/stat.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// are counted after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procstat: cannot parse /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state is field 3, utime 14, stime 15 (1-based, man 5 proc).
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procstat: bad utime/stime in /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * ClockTick, nil
}

// Memory is what /proc/PID/status says of the resident set, in KiB.
type Memory struct {
	RSS  int64 // VmRSS
	Peak int64 // VmHWM, since start or the last ResetPeak
}

// Mem reads VmRSS and VmHWM.
func Mem(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range bytes.Split(b, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			m.RSS = kb(line[len("VmRSS:"):])
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			m.Peak = kb(line[len("VmHWM:"):])
		}
	}
	return m, nil
}

func kb(v []byte) int64 {
	f := bytes.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return n
}

// ResetPeak sets VmHWM back to the current RSS (clear_refs 5, Linux 4.0+),
// so that the next Mem reports the peak of what follows.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// Settle waits until the process stops using CPU (no change over quiet, at
// most limit) and returns its CPU time then: work a request left behind
// (batched spend writes, say) is counted with the requests that caused it.
func Settle(pid int, quiet, limit time.Duration) (time.Duration, error) {
	end := time.Now().Add(limit)
	last, err := CPU(pid)
	if err != nil {
		return 0, err
	}
	for time.Now().Before(end) {
		time.Sleep(quiet)
		cur, err := CPU(pid)
		if err != nil {
			return last, err
		}
		if cur == last {
			return cur, nil
		}
		last = cur
	}
	return last, nil
}

// Machine is the machine's CPU time from the first line of /proc/stat,
// in clock ticks: all of it, and the part stolen by the hypervisor for
// other guests (a virtual machine's neighbours at work).
type Machine struct {
	Total, Steal int64
}

// ReadMachine reads /proc/stat.
func ReadMachine() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice]
	if len(f) < 9 || string(f[0]) != "cpu" {
		return Machine{}, fmt.Errorf("procstat: cannot parse /proc/stat")
	}
	var m Machine
	for i, v := range f[1:] {
		if i >= 8 {
			break // guest time is counted in user already
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return Machine{}, fmt.Errorf("procstat: bad /proc/stat field %q", v)
		}
		m.Total += n
		if i == 7 {
			m.Steal = n
		}
	}
	return m, nil
}

// StealPct is the percentage of the machine's CPU time stolen between m
// and a later reading (0 when no time passed).
func (m Machine) StealPct(later Machine) float64 {
	if d := later.Total - m.Total; d > 0 {
		return 100 * float64(later.Steal-m.Steal) / float64(d)
	}
	return 0
}
