package ollama

import (
	"path/filepath"
	"testing"

	goldenfile "github.com/switchyard/switchyard/internal/testutil/golden"
)

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}
