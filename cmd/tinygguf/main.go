// Command tinygguf writes a tiny llama-architecture model with random
// (seeded, deterministic) weights as a GGUF v3 file, for running a real
// Ollama in tests and benchmarks without any model registry.
//
// The model is 2 layers, hidden size 64, 4 heads, FFN 128, all tensors F32,
// with a SentencePiece-style vocabulary: the control tokens <unk> <s> </s>,
// the 256 byte tokens <0x00>..<0xFF>, a few hundred English words ("▁word")
// the sentence ends "." "!" "?" and "▁" alone. About 0.7 MB.
//
// The weights are random but shaped so the output is well behaved:
//   - residual channel 0 is a constant 1 and channel 1 is an "end of
//     sentence" flag set only by the tokens "." "!" "?"; no layer writes
//     to either, so the final hidden state still carries them;
//   - the output rows of the control and byte tokens get a large negative
//     weight on channel 0, so they are never sampled and the text is always
//     valid UTF-8 (whole words and punctuation only);
//   - the sentence ends get a positive weight on channel 0 (-punct-bias), so
//     one is sampled every few words;
//   - the EOS row gets -eos-bias on channel 1, so a reply stops right after
//     its first sentence end: a few tokens, done_reason "stop". With
//     -eos-bias=0 (or -no-stop) EOS is never sampled: endless replies for
//     benchmarks, bounded by num_predict (done_reason "length").
//
// Usage:
//
//	go run ./cmd/tinygguf -o tiny.gguf [-seed 1] [-ctx 4096] [-eos-bias 20] [-punct-bias 6] [-no-stop]
//
// Prompts tokenize to about one token per character: the vocabulary has no
// sub-word pieces, so SentencePiece's merges only reach two-character words
// ("▁a", "▁I", "▁of"...); other letters fall back to byte tokens, a space is "▁".
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Model shape.
const (
	nEmbd   = 64
	nLayer  = 2
	nHead   = 4
	nHeadKV = 4
	nFF     = 128
	headDim = nEmbd / nHead

	chConst = 0 // residual channel holding a constant 1
	chEnd   = 1 // residual channel flagging a sentence end token
)

// GGUF constants (ggml docs/gguf.md).
const (
	ggufMagic   = "GGUF"
	ggufVersion = 3
	alignment   = 32

	typeUint32  = 4
	typeInt32   = 5
	typeFloat32 = 6
	typeBool    = 7
	typeString  = 8
	typeArray   = 9

	ggmlTypeF32 = 0

	tokNormal  = 1
	tokUnknown = 2
	tokControl = 3
	tokByte    = 6
)

// Token ids of the control tokens.
const (
	unkID = 0
	bosID = 1
	eosID = 2
)

var sentenceEnds = []string{".", "!", "?"}

// words is the English part of the vocabulary (each gets the "▁" prefix).
var words = strings.Fields(`
the of and to a in is it you that he was for on are with as I his they be
at one have this from or had by hot word but what some we can out other were
all there when up use your how said an each she which do their time if will
way about many then them write would like so these her long make thing see
him two has look more day could go come did number sound no most people my
over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year
came show every good me give our under name very through just form sentence
great think say help low line differ turn cause much mean before move right
boy old too same tell does set three want air well also play small end put
home read hand port large spell add even land here must big high such follow
act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page
should country found answer school grow study still learn plant cover food
sun four between state keep eye never last let thought city tree cross farm
hard start might story saw far sea draw left late run while press close
night real life few north open seem together next white children begin got
walk example ease paper group always music those both mark often letter
until mile river car feet care second book carry took science eat room
friend began idea fish mountain stop once base hear horse cut sure watch
color face wood main enough plain girl usual young ready above ever red list
though feel talk bird soon body dog family direct pose leave song measure
door product black short numeral class wind question happen complete ship
area half rock order fire south problem piece told knew pass since top whole
king space heard best hour better true during hundred five remember step
early hold west ground interest reach fast verb sing listen six table travel
less morning ten simple several vowel toward war lay against pattern slow
center love person money serve appear road map rain rule govern pull cold
notice voice unit power town fine certain fly fall lead cry dark machine
note wait plan figure star box noun field rest correct able pound done
beauty drive stood contain front teach week final gave green oh quick
develop ocean warm free minute strong special mind behind clear tail
produce fact street inch multiply nothing course stay wheel full force blue
object decide surface deep moon island foot system busy test record boat
common gold possible plane stead dry wonder laugh thousand ago ran check
game shape equate miss brought heat snow tire bring yes distant fill east
paint language among`)

type options struct {
	out        string
	seed       uint64
	ctx        uint
	eosBias    float64
	punctBias  float64
	noStop     bool
	noTemplate bool
}

func main() {
	var o options
	flag.StringVar(&o.out, "o", "tiny.gguf", "output `path`")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed (same seed, same bytes)")
	flag.UintVar(&o.ctx, "ctx", 4096, "llama.context_length (the model's trained context)")
	flag.Float64Var(&o.eosBias, "eos-bias", 20, "bias of the EOS logit right after a sentence end; 0 = never stop")
	flag.Float64Var(&o.punctBias, "punct-bias", 6, "bias of the sentence-end logits (higher = shorter sentences)")
	flag.BoolVar(&o.noStop, "no-stop", false, "never emit EOS (same as -eos-bias=0): endless replies for benchmarks")
	flag.BoolVar(&o.noTemplate, "no-chat-template", false, "omit tokenizer.chat_template")
	flag.Parse()
	if o.noStop {
		o.eosBias = 0
	}
	if err := writeFile(o); err != nil {
		fmt.Fprintln(os.Stderr, "tinygguf:", err)
		os.Exit(1)
	}
}

func writeFile(o options) error {
	if o.ctx == 0 {
		return errors.New("-ctx must be positive")
	}
	if o.eosBias < 0 {
		return errors.New("-eos-bias must be >= 0")
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.out), ".tinygguf-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<16)
	if err := build(o).write(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), o.out)
}

// ---------------------------------------------------------------- model

type kv struct {
	key string
	val any // uint32, int32, float32, bool, string, []string, []float32, []int32
}

type tensor struct {
	name string
	dims []uint64 // ggml order: dims[0] is the contiguous (row) dimension
	data []float32
}

type gguf struct {
	kvs     []kv
	tensors []tensor
}

type vocab struct {
	tokens []string
	scores []float32
	types  []int32
}

func (v *vocab) add(tok string, score float32, typ int32) int {
	v.tokens = append(v.tokens, tok)
	v.scores = append(v.scores, score)
	v.types = append(v.types, typ)
	return len(v.tokens) - 1
}

func buildVocab() (v vocab, endIDs []int, spaceID int) {
	v.add("<unk>", 0, tokUnknown)
	v.add("<s>", 0, tokControl)
	v.add("</s>", 0, tokControl)
	for b := 0; b < 256; b++ {
		v.add(fmt.Sprintf("<0x%02X>", b), 0, tokByte)
	}
	seen := map[string]bool{}
	for i, w := range words {
		if seen[w] {
			continue
		}
		seen[w] = true
		// SentencePiece scores are log-probabilities: earlier (commoner) words score higher.
		v.add("▁"+w, -float32(i+1)/100, tokNormal)
	}
	for _, p := range sentenceEnds {
		endIDs = append(endIDs, v.add(p, -1, tokNormal))
	}
	// The word boundary alone, so a space in a prompt costs one token, not
	// the three byte tokens of U+2581. Never generated.
	spaceID = v.add("▁", -10, tokNormal)
	return v, endIDs, spaceID
}

// chatTemplate is a Zephyr-style Jinja template, for tools that read it from
// the GGUF; Ollama uses the Go template in testdata/ollama/Modelfile instead.
const chatTemplate = `{% for message in messages %}{% if message['role'] == 'system' %}<|system|>
{{ message['content'] }}</s>
{% elif message['role'] == 'user' %}<|user|>
{{ message['content'] }}</s>
{% elif message['role'] == 'assistant' %}<|assistant|>
{{ message['content'] }}</s>
{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>
{% endif %}`

func build(o options) *gguf {
	rng := rand.New(rand.NewPCG(o.seed, 0x5357_4954_4348_5944)) // "SWITCHYD"
	normal := func(std float64) float32 { return float32(rng.NormFloat64() * std) }
	v, endIDs, spaceID := buildVocab()
	nVocab := len(v.tokens)

	g := &gguf{}
	g.kvs = []kv{
		{"general.architecture", "llama"},
		{"general.name", "switchyard-tiny"},
		{"general.file_type", uint32(0)}, // ALL_F32
		{"general.alignment", uint32(alignment)},
		{"llama.context_length", uint32(o.ctx)},
		{"llama.embedding_length", uint32(nEmbd)},
		{"llama.block_count", uint32(nLayer)},
		{"llama.feed_forward_length", uint32(nFF)},
		{"llama.attention.head_count", uint32(nHead)},
		{"llama.attention.head_count_kv", uint32(nHeadKV)},
		{"llama.rope.dimension_count", uint32(headDim)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.vocab_size", uint32(nVocab)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", v.tokens},
		{"tokenizer.ggml.scores", v.scores},
		{"tokenizer.ggml.token_type", v.types},
		{"tokenizer.ggml.unknown_token_id", uint32(unkID)},
		{"tokenizer.ggml.bos_token_id", uint32(bosID)},
		{"tokenizer.ggml.eos_token_id", uint32(eosID)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
		{"tokenizer.ggml.add_space_prefix", true},
	}
	if !o.noTemplate {
		g.kvs = append(g.kvs, kv{"tokenizer.chat_template", chatTemplate})
	}

	ones := func() []float32 {
		x := make([]float32, nEmbd)
		for i := range x {
			x[i] = 1
		}
		return x
	}
	// matrix returns a [rows][cols] row-major matrix, ggml dims {cols, rows}.
	matrix := func(name string, cols, rows int, std float64) tensor {
		d := make([]float32, cols*rows)
		for i := range d {
			d[i] = normal(std)
		}
		return tensor{name: name, dims: []uint64{uint64(cols), uint64(rows)}, data: d}
	}
	// keepChannels zeroes the output rows of the reserved residual channels,
	// so a layer never writes to them.
	keepChannels := func(t tensor) tensor {
		cols := int(t.dims[0])
		for _, ch := range []int{chConst, chEnd} {
			clear(t.data[ch*cols : (ch+1)*cols])
		}
		return t
	}

	// Token embeddings: constant channel 1, end flag on sentence ends, noise elsewhere.
	emb := matrix("token_embd.weight", nEmbd, nVocab, 1)
	for t := 0; t < nVocab; t++ {
		row := emb.data[t*nEmbd : (t+1)*nEmbd]
		row[chConst] = 1
		row[chEnd] = 0
	}
	for _, t := range endIDs {
		emb.data[t*nEmbd+chEnd] = 1
	}
	g.tensors = append(g.tensors, emb)

	inStd := 1 / math.Sqrt(nEmbd)
	for l := 0; l < nLayer; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		g.tensors = append(g.tensors,
			tensor{name: p + "attn_norm.weight", dims: []uint64{nEmbd}, data: ones()},
			matrix(p+"attn_q.weight", nEmbd, nEmbd, inStd),
			matrix(p+"attn_k.weight", nEmbd, nHeadKV*headDim, inStd),
			matrix(p+"attn_v.weight", nEmbd, nHeadKV*headDim, inStd),
			keepChannels(matrix(p+"attn_output.weight", nEmbd, nEmbd, 0.5*inStd)),
			tensor{name: p + "ffn_norm.weight", dims: []uint64{nEmbd}, data: ones()},
			matrix(p+"ffn_gate.weight", nEmbd, nFF, inStd),
			matrix(p+"ffn_up.weight", nEmbd, nFF, inStd),
			keepChannels(matrix(p+"ffn_down.weight", nFF, nEmbd, 0.8/math.Sqrt(nFF))),
		)
	}
	g.tensors = append(g.tensors, tensor{name: "output_norm.weight", dims: []uint64{nEmbd}, data: ones()})

	// Output (unembedding): random word rows that ignore the reserved channels.
	out := matrix("output.weight", nEmbd, nVocab, 0.25)
	row := func(t int) []float32 { return out.data[t*nEmbd : (t+1)*nEmbd] }
	never := func(t int) { r := row(t); clear(r); r[chConst] = -30 }
	for t := 0; t < nVocab; t++ {
		row(t)[chConst] = 0
		row(t)[chEnd] = 0
	}
	never(unkID)
	never(bosID)
	for b := 0; b < 256; b++ {
		never(3 + b) // byte tokens: a lone byte could be invalid UTF-8
	}
	never(spaceID) // a lone "▁" would make double spaces
	for _, t := range endIDs {
		row(t)[chConst] = float32(o.punctBias)
		row(t)[chEnd] = -30 // never two sentence ends in a row
	}
	if o.eosBias > 0 {
		r := row(eosID)
		clear(r)
		r[chEnd] = float32(o.eosBias)
	} else {
		never(eosID)
	}
	g.tensors = append(g.tensors, out)
	return g
}

// ---------------------------------------------------------------- writer

type errWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (e *errWriter) bytes(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += int64(n)
	e.err = err
}

func (e *errWriter) u32(x uint32) { e.bytes(binary.LittleEndian.AppendUint32(nil, x)) }
func (e *errWriter) u64(x uint64) { e.bytes(binary.LittleEndian.AppendUint64(nil, x)) }
func (e *errWriter) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }
func (e *errWriter) pad() {
	if r := e.n % alignment; r != 0 {
		e.bytes(make([]byte, alignment-r))
	}
}

func (e *errWriter) value(v any) {
	switch x := v.(type) {
	case uint32:
		e.u32(typeUint32)
		e.u32(x)
	case int32:
		e.u32(typeInt32)
		e.u32(uint32(x))
	case float32:
		e.u32(typeFloat32)
		e.u32(math.Float32bits(x))
	case bool:
		e.u32(typeBool)
		if x {
			e.bytes([]byte{1})
		} else {
			e.bytes([]byte{0})
		}
	case string:
		e.u32(typeString)
		e.str(x)
	case []string:
		e.u32(typeArray)
		e.u32(typeString)
		e.u64(uint64(len(x)))
		for _, s := range x {
			e.str(s)
		}
	case []float32:
		e.u32(typeArray)
		e.u32(typeFloat32)
		e.u64(uint64(len(x)))
		for _, f := range x {
			e.u32(math.Float32bits(f))
		}
	case []int32:
		e.u32(typeArray)
		e.u32(typeInt32)
		e.u64(uint64(len(x)))
		for _, i := range x {
			e.u32(uint32(i))
		}
	default:
		e.err = fmt.Errorf("unsupported metadata type %T", v)
	}
}

func (g *gguf) write(w io.Writer) error {
	e := &errWriter{w: w}
	e.bytes([]byte(ggufMagic))
	e.u32(ggufVersion)
	e.u64(uint64(len(g.tensors)))
	e.u64(uint64(len(g.kvs)))
	for _, p := range g.kvs {
		e.str(p.key)
		e.value(p.val)
	}
	// Tensor infos; offsets are relative to the (aligned) start of the data section.
	var off uint64
	for _, t := range g.tensors {
		n := uint64(1)
		for _, d := range t.dims {
			n *= d
		}
		if n != uint64(len(t.data)) {
			return fmt.Errorf("tensor %s: dims %v hold %d values, have %d", t.name, t.dims, n, len(t.data))
		}
		e.str(t.name)
		e.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			e.u64(d)
		}
		e.u32(ggmlTypeF32)
		e.u64(off)
		off += alignUp(4 * n)
	}
	e.pad()
	buf := make([]byte, 0, 4*nEmbd*nFF)
	for _, t := range g.tensors {
		buf = buf[:0]
		for _, f := range t.data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(f))
		}
		e.bytes(buf)
		e.pad()
	}
	return e.err
}

func alignUp(n uint64) uint64 { return (n + alignment - 1) / alignment * alignment }
