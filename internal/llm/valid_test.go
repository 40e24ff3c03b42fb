package llm

import (
	"encoding/json"
	"testing"
)

func TestValidJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"model":"x","messages":[{"role":"user","content":"hi \u00e9 \"q\""}]}`, true},
		{`[1,2.5e-3,true,false,null,"s"]`, true},
		{` {"a":{}} `, true},
		{`{"model":"x",}`, false},
		{`{"model":"x"`, false},
		{`{"model":"x"} {}`, false},
		{`{"a":"\x"}`, false},
		{"{\"a\":\"tab\there\"}", false},
		{`{'a':1}`, false},
		{``, false},
		{`nul`, false},
	} {
		if got := ValidJSON([]byte(tc.in)); got != tc.want {
			t.Errorf("ValidJSON(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzValidJSON holds the fast validator to encoding/json's verdict.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[]`, `"x"`, `{"a":[1,{"b":null}]}`, `{"a":"\ud800"}`, "\xff", `1e999`, `-0.0`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := ValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("ValidJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}
