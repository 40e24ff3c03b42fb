package spend

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

// jsonLine is the journal line as encoding/json writes it: the encoder
// journals were written with before appendLine.
func jsonLine(t testing.TB, r *record.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return buf.Bytes()
}

// trickyRunes go into random strings: JSON's escapes, HTML characters
// (not escaped in the journal), invalid UTF-8, and JavaScript line ends.
var trickyRunes = []string{
	"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "'", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t",
	"\x1f", "\x7f", "é", "日本", "🙂", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80",
	"\xf4\x90\x80\x80", `\u0041`, "}", "{", ",", ":",
}

func randString(rng *rand.Rand) string {
	if rng.IntN(8) == 0 {
		return ""
	}
	var b strings.Builder
	for n := rng.IntN(12); n >= 0; n-- {
		if rng.IntN(3) == 0 {
			b.WriteByte(byte(rng.IntN(256))) // any byte, valid or not
		} else {
			b.WriteString(trickyRunes[rng.IntN(len(trickyRunes))])
		}
	}
	return b.String()
}

func randFloat(rng *rand.Rand) float64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return float64(rng.IntN(1000)) / 1000
	case 2:
		return math.Float64frombits(rng.Uint64()&^(0x7ff<<52) | uint64(rng.IntN(0x7ff))<<52) // any finite
	case 3:
		return rng.Float64() * 1e-7
	case 4:
		return -rng.Float64() * 1e22
	}
	return rng.NormFloat64()
}

var zones = []*time.Location{time.UTC, time.Local, time.FixedZone("", -7*3600), time.FixedZone("X", 5*3600+30*60)}

// fillRandom sets every field of v (a struct) at random; a field of a
// kind it does not know fails the test, so a new field of record.Record
// gets a case here and then in appendLine.
func fillRandom(t testing.TB, rng *rand.Rand, v reflect.Value) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		// 0001-01-02 to 9999-12-30: years 0-9999 in every zone.
		const lo, hi = -62135596800 + 86400, 253402300800 - 86400
		sec := lo + rng.Int64N(hi-lo)
		tm := time.Unix(sec, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		if rng.IntN(4) == 0 {
			tm = tm.Truncate(time.Second)
		}
		v.Set(reflect.ValueOf(tm))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillRandom(t, rng, v.Field(i))
		}
	case reflect.String:
		v.SetString(randString(rng))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		switch rng.IntN(3) {
		case 0:
			v.SetInt(rng.Int64N(1000))
		case 1:
			v.SetInt(-rng.Int64N(1 << 40))
		default:
			v.SetInt(int64(rng.Uint64()))
		}
	case reflect.Float64:
		v.SetFloat(randFloat(rng))
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			t.Fatalf("fillRandom: field of type %s", v.Type())
		}
		switch rng.IntN(3) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + rng.IntN(3)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				s.Index(i).SetString(randString(rng))
			}
			v.Set(s)
		}
	default:
		t.Fatalf("fillRandom: field of kind %s (%s)", v.Kind(), v.Type())
	}
}

// lineRoundTrip checks that line is one '\n'-terminated line of JSON and
// that the replay reads it back as the store keeps r.
func lineRoundTrip(t testing.TB, r *record.Record, line []byte) {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' || bytes.IndexByte(line[:len(line)-1], '\n') >= 0 ||
		bytes.IndexByte(line, 0) >= 0 {
		t.Fatalf("line is not one '\\n'-terminated line without NUL: %q", line)
	}
	if !json.Valid(line) {
		t.Fatalf("line is not JSON: %s", line)
	}
	var got record.Record
	if err := parseLine(line[:len(line)-1], &got); err != nil {
		t.Fatalf("replay cannot decode %s: %v", line, err)
	}
	if r.ID == "" {
		return // parseLine refuses it, tested elsewhere
	}
	if want := stored(r); !reflect.DeepEqual(&got, want) {
		t.Fatalf("round trip of %s\ngot  %#v\nwant %#v", line, &got, want)
	}
}

// TestAppendLineRoundTrip: random records (any strings, times in every
// zone, any numbers) come back from their journal line as the stores
// keep them.
func TestAppendLineRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for range 20000 {
		var r record.Record
		fillRandom(t, rng, reflect.ValueOf(&r).Elem())
		r.ID = "x" + r.ID
		line, err := appendLine(nil, &r)
		if err != nil {
			t.Fatalf("appendLine(%#v): %v", r, err)
		}
		lineRoundTrip(t, &r, line)
	}
	for _, c := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendLine(nil, &record.Record{ID: "x", Cost: c}); err == nil {
			t.Errorf("appendLine of cost %v: no error", c)
		}
	}
}

// validJSONString is s as it reads back from a JSON string: every byte of
// invalid UTF-8 becomes U+FFFD.
func validJSONString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// checkRoundTrip decodes line as the replay does and compares every field
// with r.
func checkRoundTrip(t testing.TB, r *record.Record, line []byte) {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' || bytes.IndexByte(line[:len(line)-1], '\n') >= 0 {
		t.Fatalf("line is not one '\\n'-terminated line: %q", line)
	}
	var got record.Record
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("replay cannot decode %s: %v", line, err)
	}
	want := *r
	if !got.StartTime.Equal(want.StartTime) || !got.EndTime.Equal(want.EndTime) {
		t.Fatalf("times: got %v, %v; want %v, %v", got.StartTime, got.EndTime, want.StartTime, want.EndTime)
	}
	got.StartTime, got.EndTime, want.StartTime, want.EndTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// Strings read back with invalid UTF-8 replaced, everything else as is.
	var fix func(v reflect.Value)
	fix = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				fix(v.Field(i))
			}
		case reflect.String:
			v.SetString(validJSONString(v.String()))
		case reflect.Slice:
			if !v.IsNil() {
				s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(s, v)
				v.Set(s)
				for i := range v.Len() {
					fix(v.Index(i))
				}
			}
		}
	}
	fix(reflect.ValueOf(&want).Elem())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip of %s\ngot  %#v\nwant %#v", line, got, want)
	}
}

// FuzzAppendLine: any strings in every string field, any cost and
// durations: the line is one line of JSON and reads back as the stores
// keep the record.
func FuzzAppendLine(f *testing.F) {
	f.Add("req_1", "hello \"world\"\n", "\xff\xfe<&>", "\u2028\u2029\x00\x7f", 0.25, int64(1500000), true)
	f.Add("x", "", "", "", 0.0, int64(0), false)
	f.Add("日本語", "\\u0000", "\\ud800", "\t\b\f\r", 1e-9, int64(-1), true)
	f.Add("x", "\xed\xa0\x80", "\xc3(", "🙂", 1e21, int64(math.MaxInt64), false)
	f.Fuzz(func(t *testing.T, a, b, c, d string, cost float64, dur int64, flag bool) {
		if math.IsNaN(cost) || math.IsInf(cost, 0) {
			if _, err := appendLine(nil, &record.Record{ID: "x", Cost: cost}); err == nil {
				t.Fatalf("appendLine of cost %v: no error", cost)
			}
			return
		}
		r := &record.Record{
			ID: a, StartTime: time.Unix(dur%(1<<34), dur%1e9).UTC(), EndTime: time.Unix(0, dur),
			KeyHash: b, KeyAlias: c, User: d, Team: a + b, EndUser: c + d,
			Route: a, ClientDialect: llm.Dialect(b), ModelRequested: c, ModelGroup: d,
			DeploymentID: a, Provider: b, UpstreamModel: c, APIBase: d, Stream: flag,
			Usage:          llm.Usage{InputTokens: int(dur), OutputTokens: len(a), CacheReadTokens: -len(b), ReasoningTokens: int(dur >> 7), Estimated: !flag},
			UsageEstimated: flag, Cost: cost, Latency: time.Duration(dur), TTFT: time.Duration(-dur), UpstreamLatency: time.Duration(dur / 3),
			Status: record.Status(c), HTTPStatus: int(dur % 600), ErrorKind: d, ErrorMessage: a + c,
			CacheHit: !flag, Retries: len(d), Fallbacks: int(dur % 7), Prompt: b + d, Response: a + b + c + d,
		}
		if flag {
			r.Tags = []string{a, b, c, d}
		} else if len(a) > 0 {
			r.Tags = []string{}
		}
		got, err := appendLine(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if storedString(a) == "" {
			var x record.Record
			if parseLine(got[:len(got)-1], &x) == nil {
				t.Fatalf("a line without a record id parsed: %s", got)
			}
			return
		}
		lineRoundTrip(t, r, got)
	})
}

// FuzzParseLine: the replay's line decoder never panics, and what it
// accepts encodes to a line that decodes the same.
func FuzzParseLine(f *testing.F) {
	l, _ := appendLine(nil, goldenRecord)
	f.Add(l[:len(l)-1])
	f.Add([]byte(goldenLine[:len(goldenLine)-1]))
	f.Add([]byte(`[2,"x",1,2,"","","","","","","","","","","","","",0,0,0,0,0,0,0,0,0,0,0,"",0,"","",0,0,0,[],"",""]`))
	f.Add([]byte(`[3,"x"]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var r record.Record
		if parseLine(line, &r) != nil || line[0] == '{' {
			return
		}
		again, err := appendLine(nil, &r)
		if err != nil {
			t.Fatalf("%s parsed to a record appendLine refuses: %v", line, err)
		}
		lineRoundTrip(t, &r, again)
	})
}

// goldenRecord and goldenLine are one record and its journal line, as the
// previous version (encoding/json) wrote it.
var goldenRecord = &record.Record{
	ID:        "req_0197a3c2d4e5f60718293a4b5c6d7e8f",
	StartTime: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC),
	EndTime:   time.Date(2026, 3, 1, 10, 0, 1, 500000000, time.FixedZone("", 3600)),
	KeyHash:   "5f4dcc3b", KeyAlias: "ci <bot> & co", User: "u\"1\"", Team: "t\\1", EndUser: "e\u2028u",
	Route: "chat_completions", ClientDialect: llm.DialectOpenAI, ModelRequested: "gpt-4o", ModelGroup: "gpt",
	DeploymentID: "d1", Provider: "openai", UpstreamModel: "gpt-4o-2024", APIBase: "https://api.example/v1",
	Stream: true, Usage: llm.Usage{InputTokens: 11, OutputTokens: 7, CacheReadTokens: 3, CacheWriteTokens: 1, ReasoningTokens: 2},
	UsageEstimated: false, Cost: 1.25e-7, Latency: 1376543211 * time.Nanosecond, TTFT: 250 * time.Millisecond,
	UpstreamLatency: time.Second, Status: record.StatusFailure, HTTPStatus: 502, ErrorKind: "upstream",
	ErrorMessage: "bad\ngateway\x01\xff", CacheHit: false, Retries: 2, Fallbacks: 1, Tags: []string{"a", "b"},
	Prompt: "", Response: "日本",
}

const goldenLine = `{"ID":"req_0197a3c2d4e5f60718293a4b5c6d7e8f","StartTime":"2026-03-01T10:00:00.123456789Z",` +
	`"EndTime":"2026-03-01T10:00:01.5+01:00","KeyHash":"5f4dcc3b","KeyAlias":"ci <bot> & co","User":"u\"1\"",` +
	`"Team":"t\\1","EndUser":"e\u2028u","Route":"chat_completions","ClientDialect":"openai","ModelRequested":"gpt-4o",` +
	`"ModelGroup":"gpt","DeploymentID":"d1","Provider":"openai","UpstreamModel":"gpt-4o-2024",` +
	`"APIBase":"https://api.example/v1","Stream":true,"Usage":{"InputTokens":11,"OutputTokens":7,` +
	`"CacheReadTokens":3,"CacheWriteTokens":1,"ReasoningTokens":2,"Estimated":false},"UsageEstimated":false,` +
	`"Cost":1.25e-7,"Latency":1376543211,"TTFT":250000000,"UpstreamLatency":1000000000,"Status":"failure",` +
	`"HTTPStatus":502,"ErrorKind":"upstream","ErrorMessage":"bad\ngateway\u0001\ufffd","CacheHit":false,` +
	`"Retries":2,"Fallbacks":1,"Tags":["a","b"],"Prompt":"","Response":"日本"}` + "\n"

// goldenArrayLine is goldenRecord's line in this version's format.
const goldenArrayLine = `[2,"req_0197a3c2d4e5f60718293a4b5c6d7e8f",1772359200123456,1772355601500000,"5f4dcc3b",` +
	`"ci <bot> & co","u\"1\"","t\\1","e` + "\u2028" + `u","chat_completions","openai","gpt-4o","gpt","d1","openai",` +
	`"gpt-4o-2024","https://api.example/v1",1,11,7,3,1,2,0,1.25e-07,1376543211,250000000,1000000000,"failure",502,` +
	`"upstream","bad\ngateway\u0001` + "\ufffd" + `",0,2,1,["a","b"],"","日本"]` + "\n"

func TestAppendLineGolden(t *testing.T) {
	got, err := appendLine(nil, goldenRecord)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenArrayLine {
		t.Errorf("appendLine\n%s\nwant\n%s", got, goldenArrayLine)
	}
	lineRoundTrip(t, goldenRecord, got)
	// A line of the previous format reads back as encoding/json reads it.
	if want := jsonLine(t, goldenRecord); string(want) != goldenLine {
		t.Errorf("encoding/json\n%s\nwant\n%s", want, goldenLine)
	}
	var r record.Record
	if err := parseLine([]byte(goldenLine[:len(goldenLine)-1]), &r); err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, &r, []byte(goldenLine))
}

// TestReplayPreviousJournal: a journal segment the previous version left
// (lines written by encoding/json) is replayed into the store.
func TestReplayPreviousJournal(t *testing.T) {
	dir := t.TempDir()
	other := *goldenRecord
	other.ID, other.Tags, other.Cost = "req_2", nil, 0.5
	data := goldenLine + string(jsonLine(t, &other))
	if err := os.WriteFile(filepath.Join(dir, segName(7)), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan *record.Record, 2)
	store := &fakeStore{InsertFn: func(_ context.Context, recs []*record.Record) error {
		for _, r := range recs {
			c := *r // the Writer reuses recs once Insert returns
			got <- &c
		}
		return nil
	}}
	w, err := NewWriter(store, dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(got)
	var ids []string
	for r := range got {
		ids = append(ids, r.ID)
		want := goldenRecord
		if r.ID == other.ID {
			want = &other
		}
		checkRoundTrip(t, r, jsonLine(t, want))
	}
	if len(ids) != 2 || ids[0] != goldenRecord.ID || ids[1] != other.ID {
		t.Errorf("replayed %v, want [%s %s]", ids, goldenRecord.ID, other.ID)
	}
	if n := len(segments(t, dir)); n != 0 {
		t.Errorf("%d segments left after the replay", n)
	}
}
