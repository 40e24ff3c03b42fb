package llm

import (
	"encoding/json"
	"testing"
)

func TestCleanSchema(t *testing.T) {
	in := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","additionalProperties":false,
"properties":{"format":{"type":"string","format":"uri"},"m":{"type":"object","propertyNames":{"pattern":"^a"}},
"e":{"enum":[{"$schema":"kept in enum"}]},"n":{"anyOf":[{"type":"number","exclusiveMinimum":0},{"const":"x"}]}},"required":["format"]}`
	tests := []struct {
		name string
		drop SchemaDrop
		want string
	}{
		{"openai", DropForOpenAI, `{"additionalProperties":false,"properties":{"e":{"enum":[{"$schema":"kept in enum"}]},"format":{"format":"uri","type":"string"},"m":{"type":"object"},"n":{"anyOf":[{"exclusiveMinimum":0,"type":"number"},{"const":"x"}]}},"required":["format"],"type":"object"}`},
		{"ollama", DropForOllama, `{"additionalProperties":false,"properties":{"e":{"enum":[{"$schema":"kept in enum"}]},"format":{"type":"string"},"m":{"type":"object"},"n":{"anyOf":[{"type":"number"},{"const":"x"}]}},"required":["format"],"type":"object"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CleanSchema(json.RawMessage(in), tc.drop)
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if got := CleanSchema(json.RawMessage(`{bad`), DropForOpenAI); string(got) != `{bad` {
		t.Fatalf("invalid JSON changed: %s", got)
	}
}
