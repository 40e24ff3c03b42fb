package word

import "testing"

// Less and Eq flag a byte at every position, for every value, and a
// borrow from one flagged byte never hides a later one nor flags a plain
// one before it.
func TestLessEq(t *testing.T) {
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 0x80 {
			w := append([]byte(nil), base...)
			w[pos] = byte(c)
			x := Load(string(w))
			if got, want := Less(x, 0x20)&High != 0, c < 0x20; got != want {
				t.Fatalf("Less(%q, 0x20) = %v, want %v", w, got, want)
			}
			if got, want := Eq(x, '"')&High != 0, c == '"'; got != want {
				t.Fatalf("Eq(%q, '\"') = %v, want %v", w, got, want)
			}
		}
	}
	if x := Load("\x00\x00\"defgh"); Eq(x, '"')&High == 0 || Less(x, 1)&High == 0 {
		t.Error("two flagged bytes: one lost")
	}
	if x := Load("abcdefg\x01"); Less(x, 2)&High != 1<<63 {
		t.Errorf("Less(abcdefg\\x01, 2) = %#x, want only the last byte", Less(x, 2)&High)
	}
	if got := Load("\x01\x02\x03\x04\x05\x06\x07\x08"); got != 0x0807060504030201 {
		t.Errorf("Load = %#x", got)
	}
}
