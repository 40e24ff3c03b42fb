package spend

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

// stored is r as the store returns it.
func stored(r *record.Record) *record.Record {
	c := *r
	c.StartTime = time.UnixMicro(r.StartTime.UnixMicro()).UTC()
	c.EndTime = time.UnixMicro(r.EndTime.UnixMicro()).UTC()
	est := r.UsageEstimated || r.Usage.Estimated
	c.UsageEstimated, c.Usage.Estimated = est, est
	for _, p := range []*string{&c.ID, &c.KeyHash, &c.KeyAlias, &c.User, &c.Team, &c.EndUser, &c.Route,
		&c.ModelRequested, &c.ModelGroup, &c.DeploymentID, &c.Provider, &c.UpstreamModel, &c.APIBase,
		&c.ErrorKind, &c.ErrorMessage, &c.Prompt, &c.Response} {
		*p = storedString(*p)
	}
	c.ClientDialect = llm.Dialect(storedString(string(c.ClientDialect)))
	c.Status = record.Status(storedString(string(c.Status)))
	c.Tags = nil
	for _, t := range r.Tags {
		c.Tags = append(c.Tags, storedString(t))
	}
	return &c
}

func randRecord(t testing.TB, rng *rand.Rand) *record.Record {
	var r record.Record
	fillRandom(t, rng, reflect.ValueOf(&r).Elem())
	if math.IsNaN(r.Cost) || math.IsInf(r.Cost, 0) {
		r.Cost = 0
	}
	return &r
}

// encodeBatch encodes recs as one batch row and decodes it back.
func encodeBatch(t testing.TB, recs []*record.Record) (dict []string, cols []colRec, got []*record.Record) {
	t.Helper()
	var e batchEncoder
	e.reset()
	for _, r := range recs {
		e.add(r)
	}
	dictB, data, colsB := e.dict(), e.dataBytes(), e.cols()
	if !json.Valid(dictB) || !json.Valid(data) {
		t.Fatalf("not JSON:\n%s\n%s", dictB, data)
	}
	dict, err := decodeDict(dictB)
	if err != nil {
		t.Fatal(err)
	}
	if cols, err = decodeCols(colsB, len(dict)); err != nil {
		t.Fatal(err)
	}
	got = make([]*record.Record, len(recs))
	err = decodeData(data, dict, func(int) bool { return true }, func(i int, r *record.Record) { got[i] = r })
	if err != nil {
		t.Fatal(err)
	}
	return dict, cols, got
}

// TestBatchRoundTrip: random records (any strings, numbers, times) go
// through a batch row as the store returns them, and the summaries agree.
func TestBatchRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	for round := range 300 {
		recs := make([]*record.Record, 1+rng.IntN(20))
		for i := range recs {
			recs[i] = randRecord(t, rng)
			if i > 0 && rng.IntN(2) == 0 {
				recs[i].ModelGroup, recs[i].KeyHash = recs[i-1].ModelGroup, recs[i-1].KeyHash
			}
		}
		dict, cols, got := encodeBatch(t, recs)
		for i, r := range recs {
			if want := stored(r); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("round %d record %d:\n got %#v\nwant %#v", round, i, got[i], want)
			}
			c := cols[i]
			u := r.Usage
			if c.start != r.StartTime.UnixMicro() || dict[c.key] != storedString(r.KeyHash) || dict[c.user] != storedString(r.User) ||
				dict[c.team] != storedString(r.Team) || dict[c.model] != storedString(r.ModelGroup) ||
				dict[c.dep] != storedString(r.DeploymentID) || c.success != (r.Status == record.StatusSuccess) ||
				c.latency != int64(r.Latency) || c.in != int64(u.InputTokens) || c.out != int64(u.OutputTokens) ||
				c.cacheRead != int64(u.CacheReadTokens) || c.cacheW != int64(u.CacheWriteTokens) ||
				c.total != int64(u.Total()) || c.cost != r.Cost {
				t.Fatalf("round %d record %d: summary %+v of %+v", round, i, c, r)
			}
		}
	}
}

// TestBatchKeys: the (kind, name) pairs a batch row is indexed by are
// every non-empty key, user, team and model group of its records, however
// they repeat and alternate (the encoder skips the pairs of the record
// before).
func TestBatchKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	var e batchEncoder // one for every batch, as the store keeps it
	for round := range 200 {
		e.reset()
		want := map[[2]uint32]struct{}{}
		for range 1 + rng.IntN(12) {
			r := &record.Record{KeyHash: pick("k1", "k2", ""), User: pick("u1", "u2", "u1", ""), Team: pick("t1", ""),
				ModelGroup: pick("g1", "g2", "g3")}
			e.add(r)
			for kind, name := range []string{r.KeyHash, r.User, r.Team, r.ModelGroup} {
				if name != "" {
					want[[2]uint32{uint32(kind + kindKey), e.index[name]}] = struct{}{}
				}
			}
		}
		if !reflect.DeepEqual(e.keys, want) {
			t.Fatalf("round %d: keys %v, want %v", round, e.keys, want)
		}
	}
}

// FuzzBatchDecode: the decoders of a stored batch never panic on any
// bytes (a damaged database), and accept what the encoder writes.
func FuzzBatchDecode(f *testing.F) {
	var e batchEncoder
	e.reset()
	for _, r := range genRecords(3) {
		e.add(r)
	}
	f.Add(e.dict(), e.cols(), e.dataBytes())
	f.Add([]byte(`[""]`), []byte{colsVersion, 0}, []byte(`[]`))
	f.Add([]byte(`["","a\u00e9\ud83d\ude00\ud800"]`), []byte{colsVersion, 1, 2, 1, 1, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		[]byte(`[["x",1,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1e-7,0,0,0,0,0,0,"",0,0,0,["t"],"",""]]`))
	f.Fuzz(func(t *testing.T, dictB, colsB, data []byte) {
		dict, err := decodeDict(dictB)
		if err != nil {
			return
		}
		if cols, err := decodeCols(colsB, len(dict)); err == nil {
			for _, c := range cols {
				_ = dict[c.key] + dict[c.user] + dict[c.team] + dict[c.model] + dict[c.dep]
			}
		}
		var recs []*record.Record
		if decodeData(data, dict, func(int) bool { return true }, func(_ int, r *record.Record) { recs = append(recs, r) }) != nil {
			return
		}
		// What decodes encodes again to a batch that decodes the same.
		var e batchEncoder
		e.reset()
		for _, r := range recs {
			if math.IsNaN(r.Cost) || math.IsInf(r.Cost, 0) {
				return
			}
			e.add(r)
		}
		if _, _, again := encodeBatch(t, recs); len(again) != len(recs) {
			t.Fatalf("%d records, then %d", len(recs), len(again))
		} else {
			for i := range recs {
				if !reflect.DeepEqual(again[i], stored(recs[i])) {
					t.Fatalf("record %d:\n got %#v\nwant %#v", i, again[i], stored(recs[i]))
				}
			}
		}
	})
}

func TestDecodeRejectsDamage(t *testing.T) {
	var e batchEncoder
	e.reset()
	for _, r := range genRecords(4) {
		e.add(r)
	}
	dictB, colsB, data := e.dict(), e.cols(), e.dataBytes()
	dict, err := decodeDict(dictB)
	if err != nil {
		t.Fatal(err)
	}
	all := func(int) bool { return true }
	for name, bad := range map[string]func() error{
		"dict not an array": func() error { _, err := decodeDict([]byte(`{"a":1}`)); return err },
		"dict[0] not empty": func() error { _, err := decodeDict([]byte(`["a"]`)); return err },
		"cols version":      func() error { _, err := decodeCols(append([]byte{9}, colsB[1:]...), len(dict)); return err },
		"cols truncated":    func() error { _, err := decodeCols(colsB[:len(colsB)-3], len(dict)); return err },
		"cols trailing":     func() error { _, err := decodeCols(append(colsB, 0), len(dict)); return err },
		"cols name":         func() error { _, err := decodeCols(colsB, 1); return err },
		"data truncated": func() error {
			return decodeData(data[:len(data)-2], dict, all, func(int, *record.Record) {})
		},
		"data field count": func() error {
			return decodeData([]byte(`[["x",1,2]]`), dict, all, func(int, *record.Record) {})
		},
		"data name outside dict": func() error {
			d := `[["x",1,2,99` + strings.Repeat(",0", 19) + `,0.5` + strings.Repeat(",0", 6) + `,""` +
				strings.Repeat(",0", 3) + `,[],"",""]]`
			if err := decodeData([]byte(strings.Replace(d, ",99,", ",0,", 1)), dict, all, func(int, *record.Record) {}); err != nil {
				t.Errorf("the valid variant: %v", err)
			}
			return decodeData([]byte(d), dict, all, func(int, *record.Record) {})
		},
	} {
		if bad() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSpendLogsView: the view shows every record with the version 1
// columns and values.
func TestSpendLogsView(t *testing.T) {
	p := filepath.Join(t.TempDir(), "spend.db")
	s, err := Open("sqlite:///" + p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := genRecords(30)
	recs[3].Tags, recs[4].Prompt, recs[5].ErrorMessage = []string{"a", "b\"c"}, "hi", "line\nbreak"
	recs[6].StartTime = recs[6].StartTime.Add(123456789 * time.Nanosecond)
	recs[7].Stream, recs[7].CacheHit, recs[7].UsageEstimated = true, true, true
	if err := s.Insert(context.Background(), recs[:20]); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(context.Background(), recs[20:]); err != nil {
		t.Fatal(err)
	}
	checkView(t, p, recs)
}

// checkView compares the spend_logs view of the database at path with
// recs, in order.
func checkView(t *testing.T, path string, recs []*record.Record) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id, " + columns + " FROM spend_logs ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		got, _, _, err := scanRecord(rows.Scan)
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(recs) {
			continue
		}
		want := stored(recs[i])
		// Durations go through milliseconds as floats.
		for _, d := range [][2]*time.Duration{{&got.Latency, &want.Latency}, {&got.TTFT, &want.TTFT},
			{&got.UpstreamLatency, &want.UpstreamLatency}} {
			if diff := *d[0] - *d[1]; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("row %d: duration %v, want %v", i, *d[0], *d[1])
			}
			*d[0] = *d[1]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(recs) {
		t.Fatalf("view has %d rows, want %d", i, len(recs))
	}
}

// plain8 agrees with the byte-by-byte rule for every byte value at every
// position of a word of otherwise plain bytes.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	base := []byte("abcdefgh")
	if !plain8(string(base)) {
		t.Fatal("plain8(abcdefgh) = false")
	}
	for pos := range 8 {
		for c := range 256 {
			w := append([]byte(nil), base...)
			w[pos] = byte(c)
			if got, want := plain8(string(w)), plain(byte(c)); got != want {
				t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
			}
		}
	}
	// Two odd bytes: a borrow from one must not hide nor invent the other.
	for _, w := range []string{"\x00\x00bcdefg", "a\x1f\"defgh", "abcdef\x7f\x80", "\x20\x21\x5b\x5d\x7e\x7fab"} {
		want := true
		for i := range 8 {
			want = want && plain(w[i])
		}
		if got := plain8(w); got != want {
			t.Errorf("plain8(%q) = %v, want %v", w, got, want)
		}
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	s := "openai/bench-upstream http://127.0.0.1:35995/v1 req_0193a1b2c3d4e5f60718293a4b5c"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = appendJSONString(buf[:0], s)
	}
}
