package config

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/switchyard/switchyard/internal/testutil/golden"
)

// goldenEnv is the environment of the golden tests: the two variables a
// user of the seed guide sets, and nothing else, so that the warnings for
// the others show in the golden files.
func goldenEnv() Env {
	return MapEnv(map[string]string{
		"ANTHROPIC_API_KEY":  "sk-ant-test",
		"LITELLM_MASTER_KEY": "sk-master-test",
	})
}

// render is what `switchyard check` prints: the table, then the warnings.
func render(c *Config) string {
	var b bytes.Buffer
	c.WriteTable(&b)
	b.WriteString("\nwarnings:\n")
	if len(c.Warnings) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, w := range c.Warnings {
		b.WriteString("  " + w.String() + "\n")
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := Load(f, goldenEnv())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := render(c)
			goldenfile.Check(t, filepath.Join("testdata", "golden", name+".txt"), []byte(got))
		})
	}
}
