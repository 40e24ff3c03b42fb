package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/config"
)

// defaultOllama is where the no-flags start looks for a local Ollama.
var defaultOllama = "http://127.0.0.1:11434"

// defaultFiles are looked for, in order, when no --config is given.
var defaultFiles = []string{"switchyard.yaml", "litellm_config.yaml"}

// loadConfig resolves what to serve: --config, else --model, else a config
// file in the working directory, else the models of a local Ollama. source
// says which, for the start-up line.
func loadConfig(f flags, log *slog.Logger) (*config.Config, string, error) {
	if f.config != "" {
		cfg, err := config.Load(f.config, os.LookupEnv)
		return cfg, f.config, err
	}
	if f.model != "" {
		cfg, err := config.Parse("--model", []byte(singleModelYAML(f.model)), os.LookupEnv)
		if err == nil {
			log.Info("serving one model from --model; every model name a client asks for maps to it", "model", f.model)
		}
		return cfg, "--model " + f.model, err
	}
	for _, name := range defaultFiles {
		if _, err := os.Stat(name); err == nil {
			log.Info("no --config given: using the config file in the working directory", "file", name)
			cfg, err := config.Load(name, os.LookupEnv)
			return cfg, name, err
		}
	}
	models, err := ollamaModels(defaultOllama)
	if err != nil {
		log.Warn("no --config, no ./switchyard.yaml or ./litellm_config.yaml, and no Ollama answering: serving every model name from Ollama anyway; requests will fail until it runs (start it with `ollama serve`)",
			"ollama", defaultOllama, "err", err)
		cfg, err := config.Parse("(default)", []byte(ollamaWildcardYAML()), os.LookupEnv)
		return cfg, "(default: any model name, from Ollama at " + defaultOllama + ")", err
	}
	log.Info("no --config and no config file in the working directory: serving the models of the local Ollama under their own names",
		"ollama", defaultOllama, "models", strings.Join(models, ", "))
	cfg, err := config.Parse("(default)", []byte(ollamaModelsYAML(models)), os.LookupEnv)
	return cfg, "(default: local Ollama at " + defaultOllama + ")", err
}

func singleModelYAML(model string) string {
	short := model
	if i := strings.IndexByte(model, '/'); i >= 0 {
		short = model[i+1:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model_list:\n  - model_name: %q\n    litellm_params:\n      model: %q\n", model, model)
	fmt.Fprintf(&b, "  - model_name: \"*\"\n    litellm_params:\n      model: %q\n", model)
	if short != model {
		fmt.Fprintf(&b, "router_settings:\n  model_group_alias:\n    %q: %q\n", short, model)
	}
	return b.String()
}

func ollamaModelsYAML(models []string) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for _, m := range models {
		fmt.Fprintf(&b, "  - model_name: %q\n    litellm_params:\n      model: %q\n      api_base: %q\n", m, "ollama_chat/"+m, defaultOllama)
	}
	return b.String()
}

func ollamaWildcardYAML() string {
	return fmt.Sprintf("model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: \"ollama_chat/*\"\n      api_base: %q\n", defaultOllama)
}

// ollamaModels lists the models of the Ollama at base.
func ollamaModels(base string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/tags", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/tags: %s", resp.Status)
	}
	var tags struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tags); err != nil {
		return nil, fmt.Errorf("GET /api/tags: %w", err)
	}
	if len(tags.Models) == 0 {
		return nil, fmt.Errorf("the local Ollama has no models (pull one with `ollama pull NAME`)")
	}
	names := make([]string, 0, len(tags.Models))
	for _, m := range tags.Models {
		names = append(names, m.Name)
	}
	return names, nil
}
