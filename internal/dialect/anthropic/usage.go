package anthropic

import (
	"bytes"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/llm"
)

// usageTracker reads usage out of a relayed Anthropic reply: message_start's
// message.usage, message_delta's usage (cumulative; later non-zero fields
// win) or a whole Message body.
type usageTracker struct {
	u  llm.Usage
	ok bool
}

// NewUsageTracker returns a tracker for the pass-through path.
func (Codec) NewUsageTracker() llm.UsageTracker { return &usageTracker{} }

// NewUsageTracker is Codec{}.NewUsageTracker.
func NewUsageTracker() llm.UsageTracker { return &usageTracker{} }

var usageKey = []byte(`"usage"`)

// ObserveEvent looks at one SSE event's data. Only events that mention usage
// are parsed, so text deltas cost one bytes.Contains.
func (t *usageTracker) ObserveEvent(data []byte) {
	if !bytes.Contains(data, usageKey) {
		return
	}
	typ := gjson.GetBytes(data, "type").Str
	switch typ {
	case "message_start":
		t.merge(gjson.GetBytes(data, "message.usage"))
	case "message_delta":
		t.merge(gjson.GetBytes(data, "usage"))
	}
}

// ObserveBody looks at a whole Message body.
func (t *usageTracker) ObserveBody(body []byte) {
	t.merge(gjson.GetBytes(body, "usage"))
}

func (t *usageTracker) merge(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	u.ForEach(func(k, v gjson.Result) bool {
		if v.Type != gjson.Number {
			return true
		}
		n := int(v.Int())
		var dst *int
		switch k.Str {
		case "input_tokens":
			dst = &t.u.InputTokens
		case "output_tokens":
			dst = &t.u.OutputTokens
		case "cache_read_input_tokens":
			dst = &t.u.CacheReadTokens
		case "cache_creation_input_tokens":
			dst = &t.u.CacheWriteTokens
		default:
			return true
		}
		t.ok = true
		if n != 0 {
			*dst = n
		}
		return true
	})
}

// Usage is what was seen.
func (t *usageTracker) Usage() (llm.Usage, bool) { return t.u, t.ok }
