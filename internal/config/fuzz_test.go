package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte(oneModel))
	f.Add([]byte("model_list:\n  - model_name: \"*\"\n    litellm_params: {model: \"*\"}\nrouter_settings:\n  model_group_alias: {a: \"*\"}\n"))
	f.Add([]byte("a: &a {b: *a}\n"))
	env := MapEnv(map[string]string{"ANTHROPIC_API_KEY": "k", "LITELLM_MASTER_KEY": "m", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, env)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			if _, direct := err.(*Error); !direct {
				t.Fatalf("error %T is not a *Error itself", err)
			}
			if e.Line < 1 || e.Column < 1 || e.File != "fuzz.yaml" || e.Message == "" {
				t.Fatalf("error without position: %#v", e)
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without error")
		}
		cfg.WriteTable(io.Discard)
		for _, w := range cfg.Warnings {
			if w.File != "fuzz.yaml" || w.Message == "" {
				t.Fatalf("bad warning %#v", w)
			}
			_ = w.String()
		}
		for _, d := range cfg.Deployments {
			if d.ModelName == "" || d.Model == "" || d.ID == "" || d.Line < 1 {
				t.Fatalf("bad deployment %+v", d)
			}
		}
	})
}
