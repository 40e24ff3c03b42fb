package ollama

import (
	"bufio"
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// Paths of the Ollama endpoints Switchyard calls, relative to api_base.
const (
	PathChat  = "/api/chat"
	PathEmbed = "/api/embed"
	PathTags  = "/api/tags"
	PathShow  = "/api/show"
)

// ModelInfo is what /api/show tells about a model.
type ModelInfo struct {
	// ContextLength is the context the model runs with: the Modelfile's
	// num_ctx when it sets one, else the trained "<arch>.context_length";
	// 0 when neither is known.
	ContextLength int
	// TrainedContextLength is model_info's "<arch>.context_length".
	TrainedContextLength int
	// Capabilities as Ollama lists them ("completion", "tools", "thinking",
	// "vision", "embedding"); empty on releases that do not report them.
	Capabilities []string
}

// Has reports whether the model lists capability c.
func (m ModelInfo) Has(c string) bool {
	for _, x := range m.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// ParseShow reads a /api/show reply.
func ParseShow(body []byte) (ModelInfo, error) {
	var r ShowResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return ModelInfo{}, fmt.Errorf("ollama: decode /api/show reply: %w", err)
	}
	info := ModelInfo{Capabilities: r.Capabilities}
	arch := ""
	if v, ok := r.ModelInfo["general.architecture"]; ok {
		_ = json.Unmarshal(v, &arch)
	}
	for k, v := range r.ModelInfo {
		if !strings.HasSuffix(k, ".context_length") {
			continue
		}
		n, ok := positiveInt(v)
		if !ok {
			continue
		}
		// Prefer the architecture's own key; otherwise take any (the
		// largest, for determinism).
		if k == arch+".context_length" {
			info.TrainedContextLength = n
			break
		}
		info.TrainedContextLength = max(info.TrainedContextLength, n)
	}
	info.ContextLength = info.TrainedContextLength
	if n, ok := parameterInt(r.Parameters, "num_ctx"); ok {
		info.ContextLength = n
	}
	return info, nil
}

// ContextLengthFromShow returns the context length a /api/show reply gives:
// the Modelfile's num_ctx if set, else model_info's "<arch>.context_length".
func ContextLengthFromShow(body []byte) (int, bool) {
	info, err := ParseShow(body)
	if err != nil || info.ContextLength <= 0 {
		return 0, false
	}
	return info.ContextLength, true
}

// parameterInt finds "name value" in the Modelfile parameters text.
func parameterInt(params, name string) (int, bool) {
	sc := bufio.NewScanner(strings.NewReader(params))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			if n, err := strconv.Atoi(f[1]); err == nil && n > 0 {
				return n, true
			}
		}
	}
	return 0, false
}

func positiveInt(v json.RawMessage) (int, bool) {
	var f float64
	if json.Unmarshal(v, &f) != nil || f < 1 || f > 1<<40 {
		return 0, false
	}
	return int(f), true
}

// ModelsFromTags returns the names of the installed models in a /api/tags
// reply ("llama3.1:8b", ...), in the reply's order.
func ModelsFromTags(body []byte) ([]string, error) {
	var r TagsResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("ollama: decode /api/tags reply: %w", err)
	}
	names := make([]string, 0, len(r.Models))
	for _, m := range r.Models {
		n := m.Name
		if n == "" {
			n = m.Model
		}
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// EncodeEmbed builds a /api/embed body. input is the client's raw input: a
// string or a list of strings (token arrays are refused: Ollama embeds
// text). litellm_params that are Ollama options go into "options";
// keep_alive, truncate and dimensions go to the top level.
func EncodeEmbed(model string, input json.RawMessage, opts llm.EncodeOptions) ([]byte, error) {
	if err := checkEmbedInput(input); err != nil {
		return nil, err
	}
	req := EmbedRequest{Model: model, Input: input}
	for k, v := range opts.Params {
		switch {
		case optionKeys[k]:
			if req.Options == nil {
				req.Options = map[string]json.RawMessage{}
			}
			req.Options[k] = numberish(v)
		case k == "keep_alive":
			req.KeepAlive = v
		case k == "truncate":
			var b bool
			if json.Unmarshal(v, &b) == nil {
				req.Truncate = &b
			}
		case k == "dimensions":
			var n int
			if json.Unmarshal(numberish(v), &n) == nil && n > 0 {
				req.Dimensions = n
			}
		}
	}
	return marshal(req)
}

func checkEmbedInput(input json.RawMessage) error {
	bad := &llm.Error{Kind: llm.KindInvalidRequest, Param: "input",
		Message: "Ollama embeds a string or a list of strings"}
	var s string
	if json.Unmarshal(input, &s) == nil {
		return nil
	}
	var list []string
	if json.Unmarshal(input, &list) != nil || len(list) == 0 {
		return bad
	}
	return nil
}

// Embeddings is a decoded /api/embed reply.
type Embeddings struct {
	Model   string
	Vectors [][]float64
	Usage   llm.Usage
}

// DecodeEmbed reads a /api/embed reply; prompt_eval_count is the input usage.
func DecodeEmbed(body []byte) (*Embeddings, error) {
	var r EmbedResponse
	if err := json.Unmarshal(bytes.TrimSpace(body), &r); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "malformed Ollama embed reply", Err: err,
			Body: body, BodyDialect: llm.DialectOllama}
	}
	return &Embeddings{Model: r.Model, Vectors: r.Embeddings, Usage: llm.Usage{InputTokens: r.PromptEvalCount}}, nil
}
