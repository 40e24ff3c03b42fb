package callbacks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// webhook POSTs a JSON array of WebhookRecord to one URL per batch, like
// LiteLLM's generic API logger (GENERIC_LOGGER_ENDPOINT).
type webhook struct {
	url    string
	header http.Header
	client *http.Client
}

func newWebhook(cfg Settings, getenv func(string) string, c *http.Client) (*webhook, error) {
	url := orString(cfg.WebhookURL, getenv("GENERIC_LOGGER_ENDPOINT"))
	if url == "" {
		return nil, fmt.Errorf("webhook URL (GENERIC_LOGGER_ENDPOINT): %w", ErrNotConfigured)
	}
	hdr := cfg.WebhookHeaders
	if hdr == nil {
		hdr = parseHeaders(getenv("GENERIC_LOGGER_HEADERS"))
	}
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	return &webhook{url: url, header: h, client: c}, nil
}

// WebhookRecord is the JSON shape of one record sent to the webhook. Field
// names follow LiteLLM's standard logging payload where one exists. The API
// key is only ever its hash.
type WebhookRecord struct {
	ID                  string   `json:"id"`
	CallType            string   `json:"call_type"`
	Status              string   `json:"status"`
	StartTime           float64  `json:"startTime"`
	EndTime             float64  `json:"endTime"`
	CompletionStartTime float64  `json:"completionStartTime,omitempty"`
	ResponseTimeMs      float64  `json:"response_time_ms"`
	UpstreamLatencyMs   float64  `json:"upstream_latency_ms,omitempty"`
	RequestedModel      string   `json:"requested_model"`
	ModelGroup          string   `json:"model_group"`
	ModelID             string   `json:"model_id"`
	Model               string   `json:"model"`
	CustomLLMProvider   string   `json:"custom_llm_provider"`
	APIBase             string   `json:"api_base"`
	ClientDialect       string   `json:"client_dialect,omitempty"`
	Stream              bool     `json:"stream"`
	PromptTokens        int      `json:"prompt_tokens"`
	CompletionTokens    int      `json:"completion_tokens"`
	TotalTokens         int      `json:"total_tokens"`
	CacheReadTokens     int      `json:"cache_read_input_tokens,omitempty"`
	CacheCreationTokens int      `json:"cache_creation_input_tokens,omitempty"`
	ReasoningTokens     int      `json:"reasoning_tokens,omitempty"`
	UsageEstimated      bool     `json:"usage_estimated,omitempty"`
	ResponseCost        float64  `json:"response_cost"`
	CacheHit            bool     `json:"cache_hit"`
	Retries             int      `json:"retries,omitempty"`
	Fallbacks           int      `json:"fallbacks,omitempty"`
	StatusCode          int      `json:"status_code,omitempty"`
	ErrorKind           string   `json:"error_kind,omitempty"`
	ErrorStr            string   `json:"error_str,omitempty"`
	HashedAPIKey        string   `json:"user_api_key_hash,omitempty"`
	APIKeyAlias         string   `json:"user_api_key_alias,omitempty"`
	User                string   `json:"user_api_key_user_id,omitempty"`
	Team                string   `json:"user_api_key_team_id,omitempty"`
	EndUser             string   `json:"end_user,omitempty"`
	RequestTags         []string `json:"request_tags,omitempty"`
	Messages            string   `json:"messages,omitempty"`
	Response            string   `json:"response,omitempty"`
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// NewWebhookRecord converts r.
func NewWebhookRecord(r *record.Record) WebhookRecord {
	w := WebhookRecord{
		ID:                  r.ID,
		CallType:            r.Route,
		Status:              string(r.Status),
		ResponseTimeMs:      float64(r.Latency.Microseconds()) / 1000,
		UpstreamLatencyMs:   float64(r.UpstreamLatency.Microseconds()) / 1000,
		RequestedModel:      r.ModelRequested,
		ModelGroup:          r.ModelGroup,
		ModelID:             r.DeploymentID,
		Model:               r.UpstreamModel,
		CustomLLMProvider:   r.Provider,
		APIBase:             r.APIBase,
		ClientDialect:       string(r.ClientDialect),
		Stream:              r.Stream,
		PromptTokens:        r.Usage.PromptTokens(),
		CompletionTokens:    r.Usage.OutputTokens,
		TotalTokens:         r.Usage.Total(),
		CacheReadTokens:     r.Usage.CacheReadTokens,
		CacheCreationTokens: r.Usage.CacheWriteTokens,
		ReasoningTokens:     r.Usage.ReasoningTokens,
		UsageEstimated:      r.UsageEstimated || r.Usage.Estimated,
		ResponseCost:        r.Cost,
		CacheHit:            r.CacheHit,
		Retries:             r.Retries,
		Fallbacks:           r.Fallbacks,
		StatusCode:          r.HTTPStatus,
		ErrorKind:           r.ErrorKind,
		ErrorStr:            r.ErrorMessage,
		HashedAPIKey:        r.KeyHash,
		APIKeyAlias:         r.KeyAlias,
		User:                r.User,
		Team:                r.Team,
		EndUser:             r.EndUser,
		RequestTags:         r.Tags,
		Messages:            r.Prompt,
		Response:            r.Response,
	}
	if !r.StartTime.IsZero() {
		w.StartTime = unixSeconds(r.StartTime)
		if r.TTFT > 0 {
			w.CompletionStartTime = unixSeconds(r.StartTime.Add(r.TTFT))
		}
	}
	if !r.EndTime.IsZero() {
		w.EndTime = unixSeconds(r.EndTime)
	}
	return w
}

func (w *webhook) export(ctx context.Context, batch []*record.Record) (int, error) {
	out := make([]WebhookRecord, len(batch))
	for i, r := range batch {
		out[i] = NewWebhookRecord(r)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return 0, fmt.Errorf("webhook: encode: %w", err)
	}
	_, err = postJSON(ctx, w.client, w.url, body, w.header)
	return 0, err
}
