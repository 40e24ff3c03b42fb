package openai

import (
	"bytes"
	"unsafe"

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

var (
	usageKey      = []byte(`"usage"`)
	usageKeyColon = []byte(`"usage":`)
)

func (t *usageTracker) ObserveEvent(data []byte) {
	// The value after the last "usage": key (replies and chunks carry it
	// last, and inside a JSON string every quote is escaped, so these bytes
	// only match a key); a spaced "usage" : falls back to a path lookup.
	i := bytes.Index(data, usageKeyColon) // most chunks have none: the quick test first
	if i >= 0 {
		i += bytes.LastIndex(data[i+1:], usageKeyColon) + 1
	}
	var v gjson.Result
	if i >= 0 {
		// Parsed in place: only numbers are read from it.
		rest := data[i+len(usageKeyColon):]
		v = gjson.Parse(unsafe.String(unsafe.SliceData(rest), len(rest)))
	} else if bytes.Contains(data, usageKey) {
		v = gjson.GetBytes(data, "usage")
	}
	if !v.IsObject() {
		return // absent, or "usage":null on the chunks before the last
	}
	t.observe(v)
}

func (t *usageTracker) ObserveBody(body []byte) { t.ObserveEvent(body) }

// observe reads a usage object in one pass over its keys (details too).
func (t *usageTracker) observe(v gjson.Result) {
	var w CompletionUsage
	var pd PromptDetails
	var cd CompletionDetails
	v.ForEach(func(k, x gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			w.PromptTokens = int(x.Int())
		case "completion_tokens":
			w.CompletionTokens = int(x.Int())
		case "prompt_cache_hit_tokens":
			w.PromptCacheHitTokens = int(x.Int())
		case "prompt_tokens_details":
			x.ForEach(func(k, x gjson.Result) bool {
				switch k.Str {
				case "cached_tokens":
					pd.CachedTokens = int(x.Int())
				case "cache_write_tokens":
					pd.CacheWriteTokens = int(x.Int())
				}
				return true
			})
		case "completion_tokens_details":
			cd.ReasoningTokens = int(x.Get("reasoning_tokens").Int())
		}
		return true
	})
	w.PromptTokensDetails, w.CompletionTokensDetails = &pd, &cd
	t.u.Merge(hubUsage(&w))
	t.ok = true
}

func (t *usageTracker) Usage() (llm.Usage, bool) { return t.u, t.ok }
