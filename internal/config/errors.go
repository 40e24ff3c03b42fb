package config

import (
	"fmt"
	"strings"
)

// Error is a problem that stops the config from loading. Line and Column are
// 1-based; they are 0 when no position is known (e.g. the file cannot be read).
type Error struct {
	File    string
	Line    int
	Column  int
	Message string
	// Hint says how to fix it; may be empty.
	Hint string
}

// Error renders "file:line:col: message" and, when there is one, the hint on
// a second line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString("\n  hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Warning is a problem that does not stop loading: an ignored or unknown key,
// a missing environment variable, a value interpreted in Switchyard's way.
type Warning struct {
	File   string
	Line   int
	Column int
	// Key is the dotted key the warning is about, e.g.
	// "model_list[2].litellm_params.api_key".
	Key     string
	Message string
}

// String renders "file:line: key: message".
func (w Warning) String() string {
	var b strings.Builder
	b.WriteString(w.File)
	if w.Line > 0 {
		fmt.Fprintf(&b, ":%d", w.Line)
	}
	b.WriteString(": ")
	if w.Key != "" {
		b.WriteString(w.Key)
		b.WriteString(": ")
	}
	b.WriteString(w.Message)
	return b.String()
}
