package llm

import (
	"encoding/json"
	"reflect"
	"unsafe"
)

// SchemaDrop lists JSON Schema keywords an upstream rejects. Claude Code sends
// JSON Schema 2020-12 tool schemas; OpenAI-compatible servers that compile
// schemas into grammars (vLLM guided decoding, llama.cpp) and Ollama's
// templates choke on some keywords.
type SchemaDrop map[string]bool

// Keyword sets per upstream family.
var (
	// DropForOpenAI is for OpenAI-compatible servers (vLLM, llama.cpp, SGLang, OpenAI).
	DropForOpenAI = SchemaDrop{"$schema": true, "propertyNames": true, "$id": true, "$comment": true}
	// DropForOllama is for Ollama's native API.
	DropForOllama = SchemaDrop{"$schema": true, "propertyNames": true, "$id": true, "$comment": true, "format": true,
		"exclusiveMinimum": true, "exclusiveMaximum": true}
)

// CleanSchema returns schema without the keywords in drop, at every depth
// where a schema can stand. Property names that happen to equal a keyword
// (a property called "format") are kept. Invalid JSON is returned unchanged.
//
// Results are cached: clients such as Claude Code send the same tool
// schemas on every call, and cleaning re-parses each one.
func CleanSchema(schema json.RawMessage, drop SchemaDrop) json.RawMessage {
	if len(schema) == 0 {
		return schema
	}
	// Looked up without copying the schema (Load keeps nothing); stored
	// with a copy of its own.
	key := schemaKey{drop: reflect.ValueOf(drop).Pointer(), schema: unsafe.String(unsafe.SliceData(schema), len(schema))}
	if v, ok := schemaCache.Load(key); ok {
		return v
	}
	key.schema = string(schema)
	out := cleanSchema(schema, drop)
	schemaCache.Store(key, out)
	return out
}

type schemaKey struct {
	drop   uintptr
	schema string
}

// schemaCache holds cleaned schemas by drop rule and schema.
var schemaCache = Cache[schemaKey, json.RawMessage]{Max: 4096}

func cleanSchema(schema json.RawMessage, drop SchemaDrop) json.RawMessage {
	var v any
	if err := json.Unmarshal(schema, &v); err != nil {
		return schema
	}
	out, err := json.Marshal(cleanSchemaValue(v, drop))
	if err != nil {
		return schema
	}
	return out
}

// schemaMaps are keywords whose value is a map from names to schemas.
var schemaMaps = map[string]bool{"properties": true, "patternProperties": true, "$defs": true, "definitions": true, "dependentSchemas": true}

func cleanSchemaValue(v any, drop SchemaDrop) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if drop[k] {
				delete(t, k)
				continue
			}
			if schemaMaps[k] {
				if m, ok := val.(map[string]any); ok {
					for name, sub := range m {
						m[name] = cleanSchemaValue(sub, drop)
					}
				}
				continue
			}
			if k == "enum" || k == "const" || k == "default" || k == "examples" {
				continue
			}
			t[k] = cleanSchemaValue(val, drop)
		}
		return t
	case []any:
		for i := range t {
			t[i] = cleanSchemaValue(t[i], drop)
		}
		return t
	}
	return v
}
