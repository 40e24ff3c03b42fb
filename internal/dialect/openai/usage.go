package openai

import (
	"bytes"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/tidwall/gjson"
)

// hubUsage converts OpenAI usage to hub usage: prompt_tokens includes cached
// tokens, the hub's InputTokens does not.
func hubUsage(u *CompletionUsage) llm.Usage {
	var out llm.Usage
	cached := u.PromptCacheHitTokens
	if d := u.PromptTokensDetails; d != nil {
		if d.CachedTokens > 0 {
			cached = d.CachedTokens
		}
		out.CacheWriteTokens = max(d.CacheWriteTokens, 0)
	}
	out.CacheReadTokens = max(cached, 0)
	out.InputTokens = max(u.PromptTokens-out.CacheReadTokens-out.CacheWriteTokens, 0)
	out.OutputTokens = max(u.CompletionTokens, 0)
	if d := u.CompletionTokensDetails; d != nil {
		out.ReasoningTokens = max(d.ReasoningTokens, 0)
	}
	return out
}

// wireUsage converts hub usage to OpenAI usage, details always present.
func wireUsage(u llm.Usage) *CompletionUsage {
	return &CompletionUsage{
		PromptTokens:            u.PromptTokens(),
		CompletionTokens:        u.OutputTokens,
		TotalTokens:             u.Total(),
		PromptTokensDetails:     &PromptDetails{CachedTokens: u.CacheReadTokens},
		CompletionTokensDetails: &CompletionDetails{ReasoningTokens: u.ReasoningTokens},
	}
}

// NewUsageTracker returns a tracker for replies relayed byte for byte on the
// pass-through path. It parses only events that mention "usage".
func (Codec) NewUsageTracker() llm.UsageTracker { return &usageTracker{} }

type usageTracker struct {
	u  llm.Usage
	ok bool
}

var usageKey = []byte(`"usage"`)

func (t *usageTracker) ObserveEvent(data []byte) {
	if !bytes.Contains(data, usageKey) {
		return
	}
	v := gjson.GetBytes(data, "usage")
	if !v.IsObject() {
		return // absent, or "usage":null on the chunks before the last
	}
	t.observe(v)
}

func (t *usageTracker) ObserveBody(body []byte) { t.ObserveEvent(body) }

func (t *usageTracker) observe(v gjson.Result) {
	w := CompletionUsage{
		PromptTokens:         int(v.Get("prompt_tokens").Int()),
		CompletionTokens:     int(v.Get("completion_tokens").Int()),
		PromptCacheHitTokens: int(v.Get("prompt_cache_hit_tokens").Int()),
		PromptTokensDetails: &PromptDetails{
			CachedTokens:     int(v.Get("prompt_tokens_details.cached_tokens").Int()),
			CacheWriteTokens: int(v.Get("prompt_tokens_details.cache_write_tokens").Int()),
		},
		CompletionTokensDetails: &CompletionDetails{
			ReasoningTokens: int(v.Get("completion_tokens_details.reasoning_tokens").Int()),
		},
	}
	t.u.Merge(hubUsage(&w))
	t.ok = true
}

func (t *usageTracker) Usage() (llm.Usage, bool) { return t.u, t.ok }
