package config

// KeyStatus says what Switchyard does with a config key.
type KeyStatus uint8

// Key statuses.
const (
	// Supported keys are honoured.
	Supported KeyStatus = iota + 1
	// Forwarded keys are litellm_params passed to the upstream as request
	// parameters (Deployment.Params).
	Forwarded
	// Unsupported keys are ignored with a warning carrying KeyInfo.Note.
	Unsupported
	// Refused keys stop loading: ignoring them would change what the file
	// means too much.
	Refused
)

func (s KeyStatus) String() string {
	switch s {
	case Supported:
		return "supported"
	case Forwarded:
		return "forwarded"
	case Unsupported:
		return "unsupported"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// KeyInfo is the status of one key and, unless it is supported, what
// Switchyard does instead.
type KeyInfo struct {
	Status KeyStatus
	Note   string
}

// LookupKey reports the status of a dotted key such as
// "litellm_settings.batch_size" or "model_list.litellm_params.rpm" (list
// items have no index in these names).
func LookupKey(key string) (KeyInfo, bool) {
	k, ok := keyTable[key]
	return k, ok
}

// Table helpers: sup() for honoured keys, fwd() for forwarded request
// parameters, ign(note) for ignored keys, refuse(note) for keys that stop
// loading. To implement a key, flip it to sup() and give it a field and a
// handler in decode.go (TestKeyTableHandlers keeps the two in step).
func sup() KeyInfo               { return KeyInfo{Status: Supported} }
func fwd() KeyInfo               { return KeyInfo{Status: Forwarded} }
func ign(note string) KeyInfo    { return KeyInfo{Status: Unsupported, Note: "ignored: " + note} }
func refuse(note string) KeyInfo { return KeyInfo{Status: Refused, Note: note} }

const (
	noteMgmt      = "Switchyard has no admin UI or management database; configure it in this file"
	noteBudgets   = "budgets are not implemented; spend is still tracked"
	noteLogging   = "Switchyard logs with log/slog; see --json_logs and set_verbose"
	noteCacheOnly = "Switchyard caches exact requests only, in memory or Redis"
)

// keyTable is the one list of known keys. Sections (model_list,
// litellm_settings, ...) are listed too, so that their presence is known.
var keyTable = map[string]KeyInfo{
	"model_list":            sup(),
	"litellm_settings":      sup(),
	"router_settings":       sup(),
	"general_settings":      sup(),
	"environment_variables": sup(),
	"include":               refuse("include: is not supported; copy the included file's model_list into this file"),

	// model_list entries.
	"model_list.model_name":     sup(),
	"model_list.litellm_params": sup(),
	"model_list.model_info":     sup(),
	"model_list.rpm":            sup(), // older LiteLLM docs put rpm/tpm beside litellm_params
	"model_list.tpm":            sup(),

	"model_list.litellm_params.model":                              sup(),
	"model_list.litellm_params.custom_llm_provider":                sup(),
	"model_list.litellm_params.api_base":                           sup(),
	"model_list.litellm_params.base_url":                           sup(),
	"model_list.litellm_params.api_key":                            sup(),
	"model_list.litellm_params.rpm":                                sup(),
	"model_list.litellm_params.tpm":                                sup(),
	"model_list.litellm_params.max_parallel_requests":              sup(),
	"model_list.litellm_params.weight":                             sup(),
	"model_list.litellm_params.order":                              sup(),
	"model_list.litellm_params.timeout":                            sup(),
	"model_list.litellm_params.stream_timeout":                     sup(),
	"model_list.litellm_params.max_retries":                        sup(),
	"model_list.litellm_params.input_cost_per_token":               sup(),
	"model_list.litellm_params.output_cost_per_token":              sup(),
	"model_list.litellm_params.cache_read_input_token_cost":        sup(),
	"model_list.litellm_params.cache_creation_input_token_cost":    sup(),
	"model_list.litellm_params.num_ctx":                            sup(),
	"model_list.litellm_params.keep_alive":                         sup(),
	"model_list.litellm_params.warmup":                             sup(), // Switchyard extension
	"model_list.litellm_params.extra_headers":                      sup(),
	"model_list.litellm_params.headers":                            sup(),
	"model_list.litellm_params.api_version":                        ign("api_version only matters for Azure, which Switchyard does not support"),
	"model_list.litellm_params.organization":                       ign("the OpenAI-Organization header is not sent; use extra_headers"),
	"model_list.litellm_params.input_cost_per_second":              ign("per-second pricing is not supported; use input_cost_per_token"),
	"model_list.litellm_params.output_cost_per_second":             ign("per-second pricing is not supported; use output_cost_per_token"),
	"model_list.litellm_params.tags":                               ign("tag-based routing is not implemented"),
	"model_list.litellm_params.mock_response":                      ign("mock responses are not supported"),
	"model_list.litellm_params.drop_params":                        ign("per-deployment drop_params is not supported; use litellm_settings.drop_params"),
	"model_list.litellm_params.additional_drop_params":             ign("per-deployment parameter dropping is not supported"),
	"model_list.litellm_params.use_in_pass_through":                ign("pass-through endpoints are not implemented"),
	"model_list.litellm_params.merge_reasoning_content_in_choices": ign("reasoning is returned in the client's dialect"),
	"model_list.litellm_params.region_name":                        ign("region_name only matters for Bedrock, which Switchyard does not support"),
	"model_list.litellm_params.vertex_project":                     ign("Vertex AI is not supported"),
	"model_list.litellm_params.vertex_location":                    ign("Vertex AI is not supported"),

	// litellm_params passed to the upstream as request parameters.
	"model_list.litellm_params.temperature":           fwd(),
	"model_list.litellm_params.top_p":                 fwd(),
	"model_list.litellm_params.top_k":                 fwd(),
	"model_list.litellm_params.min_p":                 fwd(),
	"model_list.litellm_params.max_tokens":            fwd(),
	"model_list.litellm_params.max_completion_tokens": fwd(),
	"model_list.litellm_params.presence_penalty":      fwd(),
	"model_list.litellm_params.frequency_penalty":     fwd(),
	"model_list.litellm_params.repeat_penalty":        fwd(),
	"model_list.litellm_params.stop":                  fwd(),
	"model_list.litellm_params.seed":                  fwd(),
	"model_list.litellm_params.n":                     fwd(),
	"model_list.litellm_params.reasoning_effort":      fwd(),
	"model_list.litellm_params.thinking":              fwd(),
	"model_list.litellm_params.response_format":       fwd(),
	"model_list.litellm_params.logit_bias":            fwd(),
	"model_list.litellm_params.logprobs":              fwd(),
	"model_list.litellm_params.top_logprobs":          fwd(),
	"model_list.litellm_params.parallel_tool_calls":   fwd(),
	"model_list.litellm_params.user":                  fwd(),
	"model_list.litellm_params.service_tier":          fwd(),
	"model_list.litellm_params.num_predict":           fwd(),
	"model_list.litellm_params.extra_body":            fwd(),

	// model_info: these are typed; any other key is kept in ModelInfo.Extra.
	"model_list.model_info.id":                              sup(),
	"model_list.model_info.mode":                            sup(),
	"model_list.model_info.base_model":                      sup(),
	"model_list.model_info.max_tokens":                      sup(),
	"model_list.model_info.max_input_tokens":                sup(),
	"model_list.model_info.max_output_tokens":               sup(),
	"model_list.model_info.input_cost_per_token":            sup(),
	"model_list.model_info.output_cost_per_token":           sup(),
	"model_list.model_info.cache_read_input_token_cost":     sup(),
	"model_list.model_info.cache_creation_input_token_cost": sup(),

	// litellm_settings.
	"litellm_settings.drop_params":                                        sup(),
	"litellm_settings.num_retries":                                        sup(),
	"litellm_settings.request_timeout":                                    sup(),
	"litellm_settings.max_parallel_requests":                              sup(),
	"litellm_settings.stream":                                             ign("streaming is chosen per request by the client (\"stream\": true) and always supported"),
	"litellm_settings.cache":                                              sup(),
	"litellm_settings.cache_params":                                       sup(),
	"litellm_settings.cache_params.type":                                  sup(),
	"litellm_settings.cache_params.host":                                  sup(),
	"litellm_settings.cache_params.port":                                  sup(),
	"litellm_settings.cache_params.password":                              sup(),
	"litellm_settings.cache_params.ttl":                                   sup(),
	"litellm_settings.cache_params.namespace":                             sup(),
	"litellm_settings.cache_params.supported_call_types":                  sup(),
	"litellm_settings.cache_params.similarity_threshold":                  ign(noteCacheOnly),
	"litellm_settings.cache_params.redis_semantic_cache_embedding_model":  ign(noteCacheOnly),
	"litellm_settings.cache_params.qdrant_semantic_cache_embedding_model": ign(noteCacheOnly),
	"litellm_settings.cache_params.mode":                                  ign("when cache is on it applies to every request"),
	"litellm_settings.success_callback":                                   sup(),
	"litellm_settings.failure_callback":                                   sup(),
	"litellm_settings.callbacks":                                          sup(),
	"litellm_settings.langfuse_public_key":                                sup(),
	"litellm_settings.langfuse_secret_key":                                sup(),
	"litellm_settings.langfuse_host":                                      sup(),
	"litellm_settings.set_verbose":                                        sup(),
	"litellm_settings.json_logs":                                          sup(),
	"litellm_settings.context_window_fallbacks":                           sup(),
	"litellm_settings.content_policy_fallbacks":                           sup(),
	"litellm_settings.default_fallbacks":                                  sup(),
	"litellm_settings.fallbacks":                                          sup(),
	"litellm_settings.allowed_fails":                                      sup(),
	"litellm_settings.cooldown_time":                                      sup(),
	"litellm_settings.disable_cooldowns":                                  sup(),
	"litellm_settings.store_prompts_in_spend_logs":                        sup(),
	"litellm_settings.batch_size":                                         ign("Switchyard does not batch upstream requests; each request is sent as it arrives"),
	"litellm_settings.service_callbacks":                                  ign("service health is exported on /metrics"),
	"litellm_settings.turn_off_message_logging":                           ign("Switchyard never logs prompts or responses at info level"),
	"litellm_settings.redact_user_api_key_info":                           ign("key hashes are never sent to callbacks"),
	"litellm_settings.langfuse_default_tags":                              ign("Langfuse tags are not configurable"),
	"litellm_settings.modify_params":                                      ign("requests are translated between dialects without LiteLLM's param rewriting"),
	"litellm_settings.enable_preview_features":                            ign("there are no preview features"),
	"litellm_settings.force_ipv4":                                         ign("Go's resolver picks the address family"),
	"litellm_settings.max_budget":                                         ign(noteBudgets),
	"litellm_settings.budget_duration":                                    ign(noteBudgets),
	"litellm_settings.max_end_user_budget":                                ign(noteBudgets),
	"litellm_settings.default_team_settings":                              ign(noteMgmt),
	"litellm_settings.key_generation_settings":                            ign(noteMgmt),
	"litellm_settings.default_key_generate_params":                        ign(noteMgmt),
	"litellm_settings.upperbound_key_generate_params":                     ign(noteMgmt),
	"litellm_settings.disable_end_user_cost_tracking":                     ign("end-user cost tracking is not implemented"),
	"litellm_settings.enable_json_schema_validation":                      ign("response schemas are not validated by the gateway"),
	"litellm_settings.telemetry":                                          ign("Switchyard sends no telemetry"),
	"litellm_settings.num_workers":                                        ign("one Go process serves all requests concurrently; there are no workers"),

	// router_settings.
	"router_settings.routing_strategy":              sup(),
	"router_settings.model_group_alias":             sup(),
	"router_settings.num_retries":                   sup(),
	"router_settings.retry_after":                   sup(),
	"router_settings.timeout":                       sup(),
	"router_settings.stream_timeout":                sup(),
	"router_settings.allowed_fails":                 sup(),
	"router_settings.cooldown_time":                 sup(),
	"router_settings.disable_cooldowns":             sup(),
	"router_settings.fallbacks":                     sup(),
	"router_settings.context_window_fallbacks":      sup(),
	"router_settings.content_policy_fallbacks":      sup(),
	"router_settings.default_fallbacks":             sup(),
	"router_settings.max_parallel_requests":         sup(),
	"router_settings.redis_host":                    sup(),
	"router_settings.redis_port":                    sup(),
	"router_settings.redis_password":                sup(),
	"router_settings.enable_pre_call_checks":        sup(),
	"router_settings.redis_url":                     ign("use redis_host, redis_port and redis_password"),
	"router_settings.routing_strategy_args":         ign("strategies use built-in parameters"),
	"router_settings.retry_policy":                  ign("retries are per router (num_retries), not per error type"),
	"router_settings.allowed_fails_policy":          ign("allowed_fails applies to every error type"),
	"router_settings.model_group_retry_policy":      ign("retries are per router (num_retries), not per model group"),
	"router_settings.cache_responses":               ign("use litellm_settings.cache"),
	"router_settings.caching_groups":                ign("cache keys are per model group"),
	"router_settings.client_ttl":                    ign("HTTP clients are kept for the life of the process"),
	"router_settings.set_verbose":                   ign(noteLogging),
	"router_settings.debug_level":                   ign(noteLogging),
	"router_settings.default_litellm_params":        ign("set parameters per deployment in litellm_params"),
	"router_settings.provider_budget_config":        ign(noteBudgets),
	"router_settings.optional_pre_call_checks":      ign("only enable_pre_call_checks (context window) is implemented"),
	"router_settings.enable_tag_filtering":          ign("tag-based routing is not implemented"),
	"router_settings.default_max_parallel_requests": ign("set max_parallel_requests per deployment"),
	"router_settings.polling_interval":              ign("there is no polling"),
	"router_settings.alerting_config":               ign("alerting is not implemented; scrape /metrics"),

	// general_settings.
	"general_settings.master_key":                            sup(),
	"general_settings.database_url":                          sup(),
	"general_settings.user_api_key_auth":                     ign("Switchyard always authenticates with master_key and virtual keys"),
	"general_settings.rpm":                                   sup(),
	"general_settings.tpm":                                   sup(),
	"general_settings.allowed_ips":                           sup(),
	"general_settings.disable_spend_logs":                    sup(),
	"general_settings.maximum_spend_logs_retention_period":   sup(),
	"general_settings.global_max_parallel_requests":          sup(),
	"general_settings.max_parallel_requests":                 sup(),
	"general_settings.store_prompts_in_spend_logs":           sup(),
	"general_settings.proxy_batch_write_at":                  sup(),
	"general_settings.background_health_checks":              sup(),
	"general_settings.health_check_interval":                 sup(),
	"general_settings.alerting":                              ign("Slack/webhook alerting is not implemented; scrape /metrics"),
	"general_settings.alerting_threshold":                    ign("alerting is not implemented"),
	"general_settings.store_model_in_db":                     ign(noteMgmt),
	"general_settings.allowed_routes":                        ign("every route is available to authenticated keys"),
	"general_settings.key_management_settings":               ign(noteMgmt),
	"general_settings.database_connection_pool_limit":        ign("the database pool size is chosen by Switchyard"),
	"general_settings.allow_requests_on_db_unavailable":      ign("what happens when the database is down is not configurable"),
	"general_settings.disable_master_key_return":             ign("the master key is never returned"),
	"general_settings.enforce_user_param":                    ign("the user parameter is optional"),
	"general_settings.custom_auth":                           ign("custom auth hooks are not supported"),
	"general_settings.ui_access_mode":                        ign("there is no admin UI"),
	"general_settings.disable_reset_budget":                  ign(noteBudgets),
	"general_settings.infer_model_from_keys":                 ign("models come from model_list"),
	"general_settings.max_request_size_mb":                   ign("the request size limit is built in"),
	"general_settings.max_response_size_mb":                  ign("responses are streamed without a size limit"),
	"general_settings.use_x_forwarded_for":                   ign("allowed_ips is checked against the connection's address"),
	"general_settings.health_check_details":                  ign("the /health output is fixed"),
	"general_settings.num_workers":                           ign("one Go process serves all requests concurrently; there are no workers"),
	"general_settings.maximum_spend_logs_retention_interval": ign("spend-log cleanup runs daily"),
}
