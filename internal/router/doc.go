// Package router maps a requested model name to a model group, picks a
// deployment of the group, and runs the attempts: retries, cooldowns,
// fallbacks and limits, all decided before the first byte reaches the
// client and never after.
//
// # Picking
//
// A deployment is a candidate when it is not cooling down, is under its
// rpm, tpm and max_parallel_requests, and its model_info.max_input_tokens
// (if set) holds the request's estimated input tokens. Of the candidates,
// those not yet tried by this request come first, and of those the lowest
// `order` (deployments without an order come after all that have one). The
// routing strategy then chooses: simple-shuffle (weight, else rpm, else tpm),
// least-busy (fewest in flight), latency-based-routing (lowest mean of the
// last 10 samples, time to first byte for streams, random among those within
// LatencyBuffer = 10 % of the best), cost-based-routing (input+output price
// per token; a local deployment without costs is free; unknown prices last),
// usage-based-routing and -v2 (fewest tokens, then requests, this minute).
// The chosen deployment's in-flight slot and rpm request are then reserved
// atomically; a deployment that filled up meanwhile is dropped and another
// chosen. When no deployment can take the request the group fails with
// KindRateLimit and a retry-after: the end of the soonest cooldown, the next
// minute for rpm/tpm, 1 s for a parallel limit.
//
// # Retries and cooldowns
//
// Retryable failures (llm.ErrorKind.Retryable) are retried up to num_retries
// times, each retry preferring a deployment not tried yet; a retry on another
// deployment does not wait, a retry on one that already failed waits for its
// retry-after or an exponential backoff with jitter, capped by RetryMax, and
// never past the request's deadline. Nothing is retried once the attempt
// reports committed. A client that went away is no failure of the deployment.
//
// A deployment cools down for cooldown_time (default 5 s; a 429's longer
// retry-after wins) when, within one minute, it fails more than allowed_fails
// times (default 3), or at once on a 429 or when the upstream refuses its key,
// or when it fails again while cooling down (which extends the cooldown).
// Cooldowns are stored as absolute end times and only ever moved later, and
// are checked on every pick, so they apply from the very next request and end
// on time. A group with a single deployment follows LiteLLM's rule: its only
// deployment is not cooled down (that would turn every request into an
// error), unless allowed_fails is set explicitly, or every one of at least
// 1000 calls within a minute failed. disable_cooldowns turns cooldowns off.
//
// # Fallbacks
//
// When a group fails (after its retries, or because every deployment is
// cooling down or full), the request moves to fallback groups in order, each
// with its own retries, at most MaxFallbacks of them, never twice the same
// group: context_window_fallbacks for KindContextWindow (from the upstream,
// or because the estimate exceeds every deployment's max_input_tokens),
// content_policy_fallbacks for KindContentPolicy, else (or when those have no
// entry) the request's own `fallbacks`, the group's `fallbacks`, the "*"
// entry, then default_fallbacks. A failure that is the request's own fault
// never falls back. If every fallback fails the first group's error is
// returned.
//
// The seed guide's `fallbacks: true` (not LiteLLM syntax) means: after a
// failure the request may go to every other deployment of the same group,
// cheapest first (local models before the cloud) — the group gets at least
// len(deployments)-1 retries and retries are picked by cost whatever the
// strategy.
//
// # State
//
// Cooldowns, per-minute counters, in-flight counts and latency samples live
// behind State, each change one atomic operation a Redis backend can do too.
// Calls to a State that may block are bounded by StateTimeout; on a failure
// the router logs a warning, routes without shared state for StatePause and
// fails open: a state outage never holds up or refuses a request.
//
// # Global bound
//
// Admit bounds the requests the gateway serves at once
// (max_parallel_requests); past the bound it refuses at once with a 429 and
// a retry-after, so requests never pile up.
package router
