package callbacks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// Langfuse public ingestion API: POST {host}/api/public/ingestion, basic auth
// public:secret, body {"batch": [event, ...]}. Each event is an envelope
// {id, timestamp, type, body}; the envelope id deduplicates, body.id names the
// trace or observation. The API answers 207 with per-event successes/errors.
const langfusePath = "/api/public/ingestion"

type langfuse struct {
	url    string
	auth   string // "Basic …"
	client *http.Client
}

func newLangfuse(cfg Settings, getenv func(string) string, c *http.Client) (*langfuse, error) {
	pub := orString(cfg.LangfusePublicKey, getenv("LANGFUSE_PUBLIC_KEY"))
	sec := orString(cfg.LangfuseSecretKey, getenv("LANGFUSE_SECRET_KEY"))
	host := orString(cfg.LangfuseHost, orString(getenv("LANGFUSE_HOST"), DefaultLangfuseHost))
	if pub == "" || sec == "" {
		return nil, fmt.Errorf("langfuse_public_key/langfuse_secret_key (or LANGFUSE_PUBLIC_KEY/LANGFUSE_SECRET_KEY): %w", ErrNotConfigured)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	req.SetBasicAuth(pub, sec)
	return &langfuse{
		url:    strings.TrimRight(host, "/") + langfusePath,
		auth:   req.Header.Get("Authorization"),
		client: c,
	}, nil
}

type lfEvent struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Body      any    `json:"body"`
}

type lfTrace struct {
	ID        string         `json:"id"`
	Timestamp string         `json:"timestamp"`
	Name      string         `json:"name"`
	UserID    string         `json:"userId,omitempty"`
	Input     any            `json:"input,omitempty"`
	Output    any            `json:"output,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

type lfUsage struct {
	Input     int     `json:"input"`
	Output    int     `json:"output"`
	Total     int     `json:"total"`
	Unit      string  `json:"unit"`
	TotalCost float64 `json:"totalCost"`
}

type lfGeneration struct {
	ID                  string             `json:"id"`
	TraceID             string             `json:"traceId"`
	Name                string             `json:"name"`
	StartTime           string             `json:"startTime"`
	EndTime             string             `json:"endTime"`
	CompletionStartTime string             `json:"completionStartTime,omitempty"`
	Model               string             `json:"model,omitempty"`
	Usage               lfUsage            `json:"usage"`
	UsageDetails        map[string]int     `json:"usageDetails"`
	CostDetails         map[string]float64 `json:"costDetails"`
	Level               string             `json:"level"`
	StatusMessage       string             `json:"statusMessage,omitempty"`
	Input               any                `json:"input,omitempty"`
	Output              any                `json:"output,omitempty"`
	Metadata            map[string]any     `json:"metadata"`
}

// lfTime is the ISO 8601 form Langfuse expects.
func lfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// langfuseEvents turns one record into a trace-create and a generation-create.
func langfuseEvents(r *record.Record, now time.Time) []lfEvent {
	traceID := r.ID
	if traceID == "" {
		traceID = randomHex(16)
	}
	start, end := r.StartTime, r.EndTime
	if end.IsZero() {
		end = now
	}
	if start.IsZero() {
		start = end.Add(-r.Latency)
	}
	name := "switchyard-" + orString(r.Route, "request")
	level, status := "DEFAULT", ""
	if r.Status == record.StatusFailure {
		level = "ERROR"
		status = orString(r.ErrorMessage, r.ErrorKind)
	}
	var input, output any
	if r.Prompt != "" {
		input = r.Prompt
	}
	if r.Response != "" {
		output = r.Response
	}
	user := orString(r.EndUser, r.User)
	meta := map[string]any{
		"request_id":      r.ID,
		"model_group":     r.ModelGroup,
		"model_requested": r.ModelRequested,
		"deployment_id":   r.DeploymentID,
		"provider":        r.Provider,
		"api_base":        r.APIBase,
		"route":           r.Route,
		"stream":          r.Stream,
		"status_code":     r.HTTPStatus,
		"cache_hit":       r.CacheHit,
		"retries":         r.Retries,
		"fallbacks":       r.Fallbacks,
		"usage_estimated": r.UsageEstimated || r.Usage.Estimated,
	}
	if r.Usage.CacheReadTokens > 0 {
		meta["cache_read_input_tokens"] = r.Usage.CacheReadTokens
	}
	if r.Usage.CacheWriteTokens > 0 {
		meta["cache_creation_input_tokens"] = r.Usage.CacheWriteTokens
	}
	if r.Usage.ReasoningTokens > 0 {
		meta["reasoning_tokens"] = r.Usage.ReasoningTokens
	}
	if r.ErrorKind != "" {
		meta["error_kind"] = r.ErrorKind
	}
	if r.KeyAlias != "" {
		meta["user_api_key_alias"] = r.KeyAlias
	}
	if r.Team != "" {
		meta["user_api_key_team_id"] = r.Team
	}

	gen := lfGeneration{
		ID:        traceID + "-generation",
		TraceID:   traceID,
		Name:      name,
		StartTime: lfTime(start),
		EndTime:   lfTime(end),
		Model:     orString(r.UpstreamModel, r.ModelGroup),
		Usage: lfUsage{
			Input:     r.Usage.PromptTokens(),
			Output:    r.Usage.OutputTokens,
			Total:     r.Usage.Total(),
			Unit:      "TOKENS",
			TotalCost: r.Cost,
		},
		UsageDetails: map[string]int{
			"input":  r.Usage.PromptTokens(),
			"output": r.Usage.OutputTokens,
			"total":  r.Usage.Total(),
		},
		CostDetails:   map[string]float64{"total": r.Cost},
		Level:         level,
		StatusMessage: status,
		Input:         input,
		Output:        output,
		Metadata:      meta,
	}
	if r.TTFT > 0 {
		gen.CompletionStartTime = lfTime(start.Add(r.TTFT))
	}
	trace := lfTrace{
		ID:        traceID,
		Timestamp: lfTime(start),
		Name:      name,
		UserID:    user,
		Input:     input,
		Output:    output,
		Tags:      r.Tags,
		Metadata: map[string]any{
			"request_id":    r.ID,
			"model_group":   r.ModelGroup,
			"deployment_id": r.DeploymentID,
		},
	}
	ts := lfTime(now)
	return []lfEvent{
		{ID: randomUUID(), Timestamp: ts, Type: "trace-create", Body: trace},
		{ID: randomUUID(), Timestamp: ts, Type: "generation-create", Body: gen},
	}
}

// lfReply is the 207 answer: the events Langfuse refused are in errors.
type lfReply struct {
	Successes []json.RawMessage `json:"successes"`
	Errors    []struct {
		ID      string `json:"id"`
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (l *langfuse) export(ctx context.Context, batch []*record.Record) (int, error) {
	now := time.Now()
	events := make([]lfEvent, 0, 2*len(batch))
	owner := make(map[string]int, 2*len(batch)) // event id -> record index
	for i, r := range batch {
		for _, ev := range langfuseEvents(r, now) {
			owner[ev.ID] = i
			events = append(events, ev)
		}
	}
	body, err := json.Marshal(struct {
		Batch []lfEvent `json:"batch"`
	}{events})
	if err != nil {
		return 0, fmt.Errorf("langfuse: encode: %w", err)
	}
	reply, err := postJSON(ctx, l.client, l.url, body, http.Header{"Authorization": {l.auth}})
	if err != nil {
		return 0, err
	}
	var rep lfReply
	if json.Unmarshal(reply, &rep) != nil {
		return 0, nil // 2xx without the usual reply: take it as accepted
	}
	// Count the records with any refused event.
	refused := map[int]bool{}
	for _, e := range rep.Errors {
		if i, ok := owner[e.ID]; ok {
			refused[i] = true
		}
	}
	return len(refused), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomUUID is a version 4 UUID string.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
