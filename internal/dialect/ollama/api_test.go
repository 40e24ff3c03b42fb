package ollama

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestContextLengthFromShow(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
		ok   bool
	}{
		{"arch key", `{"model_info":{"general.architecture":"llama","llama.context_length":131072,"llama.embedding_length":4096}}`, 131072, true},
		{"num_ctx parameter wins", `{"parameters":"num_ctx                        8192\nstop                           \"<|eot_id|>\"","model_info":{"general.architecture":"qwen2","qwen2.context_length":32768}}`, 8192, true},
		{"other suffix", `{"model_info":{"general.architecture":"x","gemma3.context_length":8192}}`, 8192, true},
		{"missing", `{"model_info":{"general.architecture":"llama"}}`, 0, false},
		{"garbage", `nope`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ContextLengthFromShow([]byte(tc.body))
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	info, err := ParseShow([]byte(`{"capabilities":["completion","tools"],"model_info":{"general.architecture":"qwen2","qwen2.context_length":32768}}`))
	if err != nil || !info.Has("tools") || info.Has("thinking") || info.TrainedContextLength != 32768 {
		t.Errorf("ParseShow = %+v, %v", info, err)
	}
}

func TestModelsFromTags(t *testing.T) {
	got, err := ModelsFromTags([]byte(`{"models":[{"name":"qwen2.5:7b","model":"qwen2.5:7b","size":4683087332},{"model":"llama3.1:8b"},{}]}`))
	if err != nil || !reflect.DeepEqual(got, []string{"qwen2.5:7b", "llama3.1:8b"}) {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := ModelsFromTags([]byte(`[`)); err == nil {
		t.Error("no error for bad JSON")
	}
}

func TestEmbed(t *testing.T) {
	body, err := EncodeEmbed("nomic-embed-text", json.RawMessage(`["a","b"]`), llm.EncodeOptions{Params: map[string]json.RawMessage{
		"num_ctx": json.RawMessage(`2048`), "keep_alive": json.RawMessage(`"1m"`), "truncate": json.RawMessage(`false`), "api_key": json.RawMessage(`"x"`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"nomic-embed-text","input":["a","b"],"truncate":false,"options":{"num_ctx":2048},"keep_alive":"1m"}`
	if string(body) != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	if _, err := EncodeEmbed("m", json.RawMessage(`"one"`), llm.EncodeOptions{}); err != nil {
		t.Errorf("string input: %v", err)
	}
	for _, bad := range []string{`[1,2,3]`, `[[1,2]]`, `[]`, `{}`} {
		_, err := EncodeEmbed("m", json.RawMessage(bad), llm.EncodeOptions{})
		var le *llm.Error
		if !errors.As(err, &le) || le.Kind != llm.KindInvalidRequest || le.Param != "input" {
			t.Errorf("input %s: err = %v", bad, err)
		}
	}

	emb, err := DecodeEmbed([]byte(`{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862],[0.5,1]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}`))
	if err != nil {
		t.Fatal(err)
	}
	if emb.Model != "all-minilm" || len(emb.Vectors) != 2 || emb.Vectors[1][1] != 1 || emb.Usage.InputTokens != 8 {
		t.Errorf("got %+v", emb)
	}
	if _, err := DecodeEmbed([]byte(`{`)); err == nil {
		t.Error("no error for bad JSON")
	}
}
