package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// ---------------------------------------------------------------- a GGUF reader

type parsed struct {
	version uint32
	kv      map[string]any
	tensors map[string]tensor
	order   []string
}

type reader struct {
	b   []byte
	off int
	t   *testing.T
}

func (r *reader) need(n int) []byte {
	r.t.Helper()
	if r.off+n > len(r.b) {
		r.t.Fatalf("truncated at %d (+%d of %d)", r.off, n, len(r.b))
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.need(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.need(8)) }
func (r *reader) str() string { return string(r.need(int(r.u64()))) }

func (r *reader) scalar(typ uint32) any {
	switch typ {
	case typeUint32:
		return r.u32()
	case typeInt32:
		return int32(r.u32())
	case typeFloat32:
		return math.Float32frombits(r.u32())
	case typeBool:
		return r.need(1)[0] != 0
	case typeString:
		return r.str()
	}
	r.t.Fatalf("unexpected value type %d at %d", typ, r.off)
	return nil
}

func parse(t *testing.T, b []byte) parsed {
	t.Helper()
	r := &reader{b: b, t: t}
	if string(r.need(4)) != "GGUF" {
		t.Fatal("bad magic")
	}
	p := parsed{version: r.u32(), kv: map[string]any{}, tensors: map[string]tensor{}}
	nt, nkv := r.u64(), r.u64()
	for i := uint64(0); i < nkv; i++ {
		k := r.str()
		typ := r.u32()
		if typ != typeArray {
			p.kv[k] = r.scalar(typ)
			continue
		}
		et, n := r.u32(), r.u64()
		switch et {
		case typeString:
			a := make([]string, n)
			for j := range a {
				a[j] = r.str()
			}
			p.kv[k] = a
		case typeFloat32:
			a := make([]float32, n)
			for j := range a {
				a[j] = r.scalar(et).(float32)
			}
			p.kv[k] = a
		case typeInt32:
			a := make([]int32, n)
			for j := range a {
				a[j] = r.scalar(et).(int32)
			}
			p.kv[k] = a
		default:
			t.Fatalf("array of %d", et)
		}
	}
	type info struct {
		dims []uint64
		off  uint64
	}
	infos := map[string]info{}
	for i := uint64(0); i < nt; i++ {
		name := r.str()
		nd := r.u32()
		dims := make([]uint64, nd)
		for j := range dims {
			dims[j] = r.u64()
		}
		if typ := r.u32(); typ != ggmlTypeF32 {
			t.Fatalf("%s: type %d", name, typ)
		}
		off := r.u64()
		if off%alignment != 0 {
			t.Fatalf("%s: offset %d not aligned", name, off)
		}
		infos[name] = info{dims, off}
		p.order = append(p.order, name)
	}
	data := alignUp(uint64(r.off))
	for name, in := range infos {
		n := uint64(1)
		for _, d := range in.dims {
			n *= d
		}
		start := data + in.off
		if start+4*n > uint64(len(b)) {
			t.Fatalf("%s: data past the end of the file", name)
		}
		f := make([]float32, n)
		for j := range f {
			f[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[start+4*uint64(j):]))
		}
		p.tensors[name] = tensor{name: name, dims: in.dims, data: f}
	}
	return p
}

func generate(t *testing.T, o options) []byte {
	t.Helper()
	o.out = filepath.Join(t.TempDir(), "m.gguf")
	if o.ctx == 0 {
		o.ctx = 4096
	}
	if err := writeFile(o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func defaults() options { return options{seed: 1, ctx: 4096, eosBias: 20, punctBias: 6} }

func TestFormat(t *testing.T) {
	b := generate(t, defaults())
	if len(b) < 300<<10 || len(b) > 1<<20 {
		t.Errorf("size %d bytes, want about 0.5-1 MB", len(b))
	}
	p := parse(t, b)
	if p.version != 3 {
		t.Errorf("version %d", p.version)
	}
	for k, want := range map[string]any{
		"general.architecture":                   "llama",
		"llama.context_length":                   uint32(4096),
		"llama.embedding_length":                 uint32(64),
		"llama.block_count":                      uint32(2),
		"llama.feed_forward_length":              uint32(128),
		"llama.attention.head_count":             uint32(4),
		"llama.attention.head_count_kv":          uint32(4),
		"llama.rope.dimension_count":             uint32(16),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.bos_token_id":            uint32(1),
		"tokenizer.ggml.eos_token_id":            uint32(2),
	} {
		if got := p.kv[k]; got != want {
			t.Errorf("%s = %v (%T), want %v", k, got, got, want)
		}
	}
	toks := p.kv["tokenizer.ggml.tokens"].([]string)
	types := p.kv["tokenizer.ggml.token_type"].([]int32)
	scores := p.kv["tokenizer.ggml.scores"].([]float32)
	if len(types) != len(toks) || len(scores) != len(toks) {
		t.Fatalf("%d tokens, %d types, %d scores", len(toks), len(types), len(scores))
	}
	if toks[0] != "<unk>" || toks[1] != "<s>" || toks[2] != "</s>" || toks[3] != "<0x00>" || toks[258] != "<0xFF>" {
		t.Errorf("unexpected layout: %q", toks[:5])
	}
	for i := 3; i < 259; i++ {
		if types[i] != tokByte {
			t.Fatalf("token %d %q type %d", i, toks[i], types[i])
		}
	}
	nWords := 0
	for i := 259; i < len(toks); i++ {
		if strings.HasPrefix(toks[i], "▁") {
			nWords++
		}
	}
	if nWords < 200 || len(toks) != int(p.kv["llama.vocab_size"].(uint32)) {
		t.Errorf("%d words, vocab %d", nWords, len(toks))
	}
	nv := uint64(len(toks))
	wantDims := map[string][]uint64{
		"token_embd.weight":        {64, nv},
		"output.weight":            {64, nv},
		"output_norm.weight":       {64},
		"blk.1.attn_norm.weight":   {64},
		"blk.1.attn_q.weight":      {64, 64},
		"blk.1.attn_k.weight":      {64, 64},
		"blk.1.attn_v.weight":      {64, 64},
		"blk.1.attn_output.weight": {64, 64},
		"blk.1.ffn_norm.weight":    {64},
		"blk.1.ffn_gate.weight":    {64, 128},
		"blk.1.ffn_up.weight":      {64, 128},
		"blk.1.ffn_down.weight":    {128, 64},
	}
	if len(p.tensors) != 2+9*2+1 {
		t.Errorf("%d tensors", len(p.tensors))
	}
	for name, dims := range wantDims {
		if got := p.tensors[name].dims; !slices.Equal(got, dims) {
			t.Errorf("%s dims %v, want %v", name, got, dims)
		}
	}
	if !bytes.Equal(b, generate(t, defaults())) {
		t.Error("same seed, different bytes")
	}
	o := defaults()
	o.seed = 2
	if bytes.Equal(b, generate(t, o)) {
		t.Error("different seed, same bytes")
	}
}

// ---------------------------------------------------------------- a reference forward pass

// model runs the generated weights the way llama.cpp does (RMSNorm, RoPE
// NORM mode, causal attention, SwiGLU), to check the shaping of the logits.
type model struct {
	p     parsed
	nv    int
	keys  [nLayer][][]float32
	vals  [nLayer][][]float32
	toks  []string
	types []int32
}

func newModel(p parsed) *model {
	return &model{p: p, toks: p.kv["tokenizer.ggml.tokens"].([]string), types: p.kv["tokenizer.ggml.token_type"].([]int32), nv: len(p.kv["tokenizer.ggml.tokens"].([]string))}
}

func rmsNorm(x, w []float32) []float32 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+1e-5)
	y := make([]float32, len(x))
	for i := range x {
		y[i] = float32(float64(x[i])*s) * w[i]
	}
	return y
}

func matVec(t tensor, x []float32) []float32 {
	cols, rows := int(t.dims[0]), int(t.dims[1])
	y := make([]float32, rows)
	for r := 0; r < rows; r++ {
		var s float32
		for c, w := range t.data[r*cols : (r+1)*cols] {
			s += w * x[c]
		}
		y[r] = s
	}
	return y
}

func rope(x []float32, pos int) {
	for h := 0; h < len(x)/headDim; h++ {
		for i := 0; i < headDim; i += 2 {
			theta := float64(pos) * math.Pow(10000, -float64(i)/headDim)
			c, s := float32(math.Cos(theta)), float32(math.Sin(theta))
			a, b := x[h*headDim+i], x[h*headDim+i+1]
			x[h*headDim+i], x[h*headDim+i+1] = a*c-b*s, a*s+b*c
		}
	}
}

func (m *model) step(tok int) []float32 {
	T := m.p.tensors
	pos := len(m.keys[0])
	x := slices.Clone(T["token_embd.weight"].data[tok*nEmbd : (tok+1)*nEmbd])
	for l := 0; l < nLayer; l++ {
		pre := fmt.Sprintf("blk.%d.", l)
		h := rmsNorm(x, T[pre+"attn_norm.weight"].data)
		q, k, v := matVec(T[pre+"attn_q.weight"], h), matVec(T[pre+"attn_k.weight"], h), matVec(T[pre+"attn_v.weight"], h)
		rope(q, pos)
		rope(k, pos)
		m.keys[l] = append(m.keys[l], k)
		m.vals[l] = append(m.vals[l], v)
		att := make([]float32, nEmbd)
		for hd := 0; hd < nHead; hd++ {
			sl := func(a []float32) []float32 { return a[hd*headDim : (hd+1)*headDim] }
			sc := make([]float64, pos+1)
			mx := math.Inf(-1)
			for j := range sc {
				var d float32
				for i, qv := range sl(q) {
					d += qv * sl(m.keys[l][j])[i]
				}
				sc[j] = float64(d) / math.Sqrt(headDim)
				mx = math.Max(mx, sc[j])
			}
			var sum float64
			for j := range sc {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := range sc {
				for i, vv := range sl(m.vals[l][j]) {
					att[hd*headDim+i] += float32(sc[j]/sum) * vv
				}
			}
		}
		for i, v := range matVec(T[pre+"attn_output.weight"], att) {
			x[i] += v
		}
		h = rmsNorm(x, T[pre+"ffn_norm.weight"].data)
		g, u := matVec(T[pre+"ffn_gate.weight"], h), matVec(T[pre+"ffn_up.weight"], h)
		for i := range g {
			g[i] = g[i] / (1 + float32(math.Exp(-float64(g[i])))) * u[i]
		}
		for i, v := range matVec(T[pre+"ffn_down.weight"], g) {
			x[i] += v
		}
	}
	return matVec(T["output.weight"], rmsNorm(x, T["output_norm.weight"].data))
}

// sample picks like Ollama's defaults: repeat penalty 1.1 over 64, top_k 40,
// top_p 0.9, temperature (0 = greedy).
func sample(logits []float32, recent []int, temp float64, rng *rand.Rand) int {
	l := slices.Clone(logits)
	for _, t := range recent {
		if l[t] > 0 {
			l[t] /= 1.1
		} else {
			l[t] *= 1.1
		}
	}
	idx := make([]int, len(l))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return l[idx[a]] > l[idx[b]] })
	if temp == 0 {
		return idx[0]
	}
	idx = idx[:40]
	p := make([]float64, len(idx))
	var sum float64
	for i, t := range idx {
		p[i] = math.Exp(float64(l[t]-l[idx[0]]) / temp)
		sum += p[i]
	}
	var cum float64
	for i := range p {
		cum += p[i] / sum
		if cum >= 0.9 {
			idx, p = idx[:i+1], p[:i+1]
			break
		}
	}
	sum = 0
	for _, v := range p {
		sum += v
	}
	r := rng.Float64() * sum
	for i, v := range p {
		if r -= v; r <= 0 {
			return idx[i]
		}
	}
	return idx[len(idx)-1]
}

// reply feeds a prompt and generates up to max tokens; it returns the
// generated ids and whether EOS ended them.
func (m *model) reply(prompt []int, max int, temp float64, rng *rand.Rand) ([]int, bool) {
	var logits []float32
	for _, t := range prompt {
		logits = m.step(t)
	}
	var out []int
	recent := slices.Clone(prompt)
	for len(out) < max {
		t := sample(logits, recent[max0(len(recent)-64):], temp, rng)
		if t == eosID {
			return out, true
		}
		out = append(out, t)
		recent = append(recent, t)
		logits = m.step(t)
	}
	return out, false
}

func max0(n int) int { return max(n, 0) }

func (m *model) prompt(rng *rand.Rand) []int {
	// <s>, some bytes (as a template would tokenize), some words, "\n".
	p := []int{bosID}
	for i := 0; i < 5+rng.IntN(30); i++ {
		if rng.IntN(2) == 0 {
			p = append(p, 3+int(' ')+rng.IntN(90))
		} else {
			p = append(p, 259+rng.IntN(m.nv-262))
		}
	}
	return append(p, 3+'\n')
}

func (m *model) text(ids []int) string {
	var b strings.Builder
	for _, t := range ids {
		b.WriteString(strings.ReplaceAll(m.toks[t], "▁", " "))
	}
	return b.String()
}

func TestRepliesStopAndAreText(t *testing.T) {
	p := parse(t, generate(t, defaults()))
	rng := rand.New(rand.NewPCG(7, 7))
	total, n := 0, 0
	for _, temp := range []float64{0, 0.8} {
		for i := 0; i < 8; i++ {
			m := newModel(p)
			ids, stopped := m.reply(m.prompt(rng), 64, temp, rng)
			txt := m.text(ids)
			if !stopped {
				t.Errorf("temp %v: no EOS within 64 tokens: %q", temp, txt)
			}
			if len(ids) == 0 {
				t.Errorf("temp %v: empty reply", temp)
			}
			for _, id := range ids {
				if m.types[id] != tokNormal || m.toks[id] == "▁" {
					t.Errorf("temp %v: generated non-text token %q", temp, m.toks[id])
				}
			}
			if !utf8.ValidString(txt) {
				t.Errorf("invalid UTF-8: %q", txt)
			}
			total += len(ids)
			n++
			if i < 2 {
				t.Logf("temp %v: %d tokens: %q", temp, len(ids), txt)
			}
		}
	}
	t.Logf("mean reply: %.1f tokens", float64(total)/float64(n))
	if mean := float64(total) / float64(n); mean < 1.5 || mean > 16 {
		t.Errorf("mean reply %.1f tokens, want a few", mean)
	}
}

func TestNoStopNeverEnds(t *testing.T) {
	o := defaults()
	o.eosBias = 0
	p := parse(t, generate(t, o))
	rng := rand.New(rand.NewPCG(3, 3))
	for _, temp := range []float64{0, 0.8} {
		m := newModel(p)
		ids, stopped := m.reply(m.prompt(rng), 150, temp, rng)
		if stopped || len(ids) != 150 {
			t.Errorf("temp %v: stopped after %d tokens", temp, len(ids))
		}
		if s := m.text(ids); !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 %q", s)
		}
	}
}
