package openai

import (
	"github.com/switchyard/switchyard/internal/llm"
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

func (t *usageTracker) ObserveEvent(data []byte) {
	// The value of the last "usage" key (replies and chunks carry it last;
	// most chunks have none, which costs one backward pass over their
	// colons). Only its numbers are read, in place.
	i := llm.LastKeyValue(data, "usage")
	if i < 0 || data[i] != '{' {
		return // absent, or "usage":null on the chunks before the last
	}
	t.observe(data[i:])
}

func (t *usageTracker) ObserveBody(body []byte) { t.ObserveEvent(body) }

// observe reads the usage object at the start of v in one pass over its
// keys (details too).
func (t *usageTracker) observe(v []byte) {
	var w CompletionUsage
	var pd PromptDetails
	var cd CompletionDetails
	llm.Members(v, func(k string, x []byte) bool {
		switch k {
		case "prompt_tokens":
			w.PromptTokens = int(llm.IntValue(x))
		case "completion_tokens":
			w.CompletionTokens = int(llm.IntValue(x))
		case "prompt_cache_hit_tokens":
			w.PromptCacheHitTokens = int(llm.IntValue(x))
		case "prompt_tokens_details":
			llm.Members(x, func(k string, x []byte) bool {
				switch k {
				case "cached_tokens":
					pd.CachedTokens = int(llm.IntValue(x))
				case "cache_write_tokens":
					pd.CacheWriteTokens = int(llm.IntValue(x))
				}
				return true
			})
		case "completion_tokens_details":
			llm.Members(x, func(k string, x []byte) bool {
				if k == "reasoning_tokens" {
					cd.ReasoningTokens = int(llm.IntValue(x))
					return false // the first, as a path lookup reads it
				}
				return true
			})
		}
		return true
	})
	w.PromptTokensDetails, w.CompletionTokensDetails = &pd, &cd
	t.u.Merge(hubUsage(&w))
	t.ok = true
}

func (t *usageTracker) Usage() (llm.Usage, bool) { return t.u, t.ok }
