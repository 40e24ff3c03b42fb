package pricing

// table holds list prices in USD per million tokens (MTok) for the standard
// (non-batch) tier, keyed by the canonical model name (no provider prefix,
// no date suffix). CacheWrite is Anthropic's 5-minute cache write price;
// OpenAI does not charge for cache writes, so its CacheWrite is the input
// price (OpenAI never reports cache-creation tokens anyway).
//
// Sources (checked 2026-11): platform.claude.com/docs/en/about-claude/pricing
// ("Model pricing" table: base input, 5m cache writes, cache hits, output)
// and the OpenAI API pricing page (input, cached input, output).
// Long-context surcharges (Sonnet > 200K input) and 1-hour cache writes are
// not modelled: Usage does not carry the information to apply them.
var table = map[string]mtok{
	// Anthropic.
	"claude-opus-5":     {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
	"claude-opus-4-8":   {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
	"claude-opus-4-7":   {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
	"claude-opus-4-6":   {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
	"claude-opus-4-5":   {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
	"claude-opus-4-1":   {Input: 15, Output: 75, CacheRead: 1.50, CacheWrite: 18.75},
	"claude-opus-4":     {Input: 15, Output: 75, CacheRead: 1.50, CacheWrite: 18.75},
	"claude-3-opus":     {Input: 15, Output: 75, CacheRead: 1.50, CacheWrite: 18.75},
	"claude-sonnet-5":   {Input: 2, Output: 10, CacheRead: 0.20, CacheWrite: 2.50},
	"claude-sonnet-4-6": {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
	"claude-sonnet-4-5": {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
	"claude-sonnet-4":   {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
	"claude-3-7-sonnet": {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
	"claude-3-5-sonnet": {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
	"claude-haiku-4-5":  {Input: 1, Output: 5, CacheRead: 0.10, CacheWrite: 1.25},
	"claude-3-5-haiku":  {Input: 0.80, Output: 4, CacheRead: 0.08, CacheWrite: 1},
	"claude-3-haiku":    {Input: 0.25, Output: 1.25, CacheRead: 0.03, CacheWrite: 0.30},

	// OpenAI.
	"gpt-5.5":      {Input: 5, Output: 30, CacheRead: 0.50, CacheWrite: 5},
	"gpt-5.4":      {Input: 2.50, Output: 15, CacheRead: 0.25, CacheWrite: 2.50},
	"gpt-5.4-mini": {Input: 0.75, Output: 4.50, CacheRead: 0.075, CacheWrite: 0.75},
	"gpt-5.4-nano": {Input: 0.20, Output: 1.25, CacheRead: 0.02, CacheWrite: 0.20},
	"gpt-5.2":      {Input: 1.75, Output: 14, CacheRead: 0.175, CacheWrite: 1.75},
	"gpt-5.1":      {Input: 1.25, Output: 10, CacheRead: 0.125, CacheWrite: 1.25},
	"gpt-5":        {Input: 1.25, Output: 10, CacheRead: 0.125, CacheWrite: 1.25},
	"gpt-5-mini":   {Input: 0.25, Output: 2, CacheRead: 0.025, CacheWrite: 0.25},
	"gpt-5-nano":   {Input: 0.05, Output: 0.40, CacheRead: 0.005, CacheWrite: 0.05},
	"gpt-4.1":      {Input: 2, Output: 8, CacheRead: 0.50, CacheWrite: 2},
	"gpt-4.1-mini": {Input: 0.40, Output: 1.60, CacheRead: 0.10, CacheWrite: 0.40},
	"gpt-4.1-nano": {Input: 0.10, Output: 0.40, CacheRead: 0.025, CacheWrite: 0.10},
	"gpt-4o":       {Input: 2.50, Output: 10, CacheRead: 1.25, CacheWrite: 2.50},
	"gpt-4o-mini":  {Input: 0.15, Output: 0.60, CacheRead: 0.075, CacheWrite: 0.15},
	"o3":           {Input: 2, Output: 8, CacheRead: 0.50, CacheWrite: 2},
	"o4-mini":      {Input: 1.10, Output: 4.40, CacheRead: 0.275, CacheWrite: 1.10},
	"o3-mini":      {Input: 1.10, Output: 4.40, CacheRead: 0.55, CacheWrite: 1.10},
	"o1":           {Input: 15, Output: 60, CacheRead: 7.50, CacheWrite: 15},

	"text-embedding-3-small": {Input: 0.02, CacheRead: 0.02, CacheWrite: 0.02},
	"text-embedding-3-large": {Input: 0.13, CacheRead: 0.13, CacheWrite: 0.13},
	"text-embedding-ada-002": {Input: 0.10, CacheRead: 0.10, CacheWrite: 0.10},
}

// aliases maps other canonical spellings to a table key.
var aliases = map[string]string{
	"claude-opus-4-0":   "claude-opus-4",
	"claude-sonnet-4-0": "claude-sonnet-4",
	"claude-4-opus":     "claude-opus-4",
	"claude-4-sonnet":   "claude-sonnet-4",
}
