package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/spend"
)

// SpendQuerier is what the spend and log endpoints read.
type SpendQuerier interface {
	Query(ctx context.Context, f spend.Filter) ([]*record.Record, string, error)
	Report(ctx context.Context, q spend.ReportQuery) ([]spend.ReportRow, error)
	Stats(ctx context.Context, since, until time.Time) (*spend.Stats, error)
}

func (s *Server) handleMetrics(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	s.metrics(w, r)
	return nil
}

func (s *Server) spendStore() (SpendQuerier, error) {
	if s.opts.Spend == nil {
		return nil, &llm.Error{Kind: llm.KindNotFound, Message: "spend logs are off (general_settings.disable_spend_logs)"}
	}
	return s.opts.Spend, nil
}

// parseTime reads a query time: RFC 3339, a date (YYYY-MM-DD) or Unix seconds.
func parseTime(q, name string) (time.Time, error) {
	v := q
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, &llm.Error{Kind: llm.KindInvalidRequest, Param: name,
		Message: name + " must be RFC 3339, YYYY-MM-DD or Unix seconds"}
}

// logEntry is one spend record as the API shows it.
type logEntry struct {
	RequestID        string   `json:"request_id"`
	StartTime        string   `json:"startTime"`
	EndTime          string   `json:"endTime"`
	APIKey           string   `json:"api_key"`
	User             string   `json:"user"`
	Team             string   `json:"team_id"`
	EndUser          string   `json:"end_user"`
	Route            string   `json:"call_type"`
	Model            string   `json:"model"`
	ModelGroup       string   `json:"model_group"`
	ModelID          string   `json:"model_id"`
	Provider         string   `json:"custom_llm_provider"`
	APIBase          string   `json:"api_base"`
	Stream           bool     `json:"stream"`
	PromptTokens     int      `json:"prompt_tokens"`
	CompletionTokens int      `json:"completion_tokens"`
	TotalTokens      int      `json:"total_tokens"`
	CacheReadTokens  int      `json:"cache_read_input_tokens"`
	CacheWriteTokens int      `json:"cache_creation_input_tokens"`
	UsageEstimated   bool     `json:"usage_estimated"`
	Spend            float64  `json:"spend"`
	LatencyMS        int64    `json:"latency_ms"`
	TTFTMS           int64    `json:"time_to_first_token_ms"`
	Status           string   `json:"status"`
	HTTPStatus       int      `json:"http_status"`
	ErrorKind        string   `json:"error_kind,omitempty"`
	ErrorMessage     string   `json:"error_message,omitempty"`
	CacheHit         bool     `json:"cache_hit"`
	Retries          int      `json:"retries"`
	Fallbacks        int      `json:"fallbacks"`
	Tags             []string `json:"request_tags"`
	Messages         string   `json:"messages,omitempty"`
	Response         string   `json:"response,omitempty"`
}

func toEntry(r *record.Record) logEntry {
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	return logEntry{
		RequestID: r.ID, StartTime: r.StartTime.UTC().Format(time.RFC3339Nano), EndTime: r.EndTime.UTC().Format(time.RFC3339Nano),
		APIKey: r.KeyHash, User: r.User, Team: r.Team, EndUser: r.EndUser, Route: r.Route,
		Model: r.UpstreamModel, ModelGroup: r.ModelGroup, ModelID: r.DeploymentID, Provider: r.Provider, APIBase: r.APIBase,
		Stream: r.Stream, PromptTokens: r.Usage.PromptTokens(), CompletionTokens: r.Usage.OutputTokens,
		TotalTokens: r.Usage.Total(), CacheReadTokens: r.Usage.CacheReadTokens, CacheWriteTokens: r.Usage.CacheWriteTokens,
		UsageEstimated: r.UsageEstimated, Spend: r.Cost, LatencyMS: r.Latency.Milliseconds(), TTFTMS: r.TTFT.Milliseconds(),
		Status: string(r.Status), HTTPStatus: r.HTTPStatus, ErrorKind: r.ErrorKind, ErrorMessage: r.ErrorMessage,
		CacheHit: r.CacheHit, Retries: r.Retries, Fallbacks: r.Fallbacks, Tags: tags, Messages: r.Prompt, Response: r.Response,
	}
}

// handleSpendLogs serves GET /spend/logs (filters: api_key (a key or its
// hash), user_id, team_id, model, start_date, end_date; limit and cursor for
// pages) and GET /logs (the same, newest first). The next page's cursor is in
// next_cursor.
func (s *Server) handleSpendLogs(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	st, err := s.spendStore()
	if err != nil {
		return err
	}
	q := r.Query()
	f := spend.Filter{User: q.Get("user_id"), Team: q.Get("team_id"), ModelGroup: q.Get("model"), Cursor: q.Get("cursor")}
	if k := q.Get("api_key"); k != "" {
		f.KeyHash = k
		if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
			f.KeyHash = hashKey(k)
		}
	}
	if f.Start, err = parseTime(q.Get("start_date"), "start_date"); err != nil {
		return err
	}
	if f.End, err = parseTime(q.Get("end_date"), "end_date"); err != nil {
		return err
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return &llm.Error{Kind: llm.KindInvalidRequest, Param: "limit", Message: "limit must be a positive integer"}
		}
		f.Limit = n
	}
	recs, next, err := st.Query(r.Context(), f)
	if err != nil {
		return spendError(err)
	}
	out := make([]logEntry, 0, len(recs))
	for _, rec := range recs {
		out = append(out, toEntry(rec))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": out, "next_cursor": next})
}

func spendError(err error) error {
	if e, ok := err.(*llm.Error); ok {
		return e
	}
	return &llm.Error{Kind: llm.KindUnavailable, Message: "the spend log database cannot be read right now", Err: err}
}

// handleSpendReport serves GET /global/spend/report?group_by=day|model|key|user|team|deployment.
func (s *Server) handleSpendReport(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	st, err := s.spendStore()
	if err != nil {
		return err
	}
	q := r.Query()
	rq := spend.ReportQuery{GroupBy: spend.GroupBy(q.Get("group_by"))}
	if rq.GroupBy == "" {
		rq.GroupBy = "day"
	}
	if rq.Start, err = parseTime(q.Get("start_date"), "start_date"); err != nil {
		return err
	}
	if rq.End, err = parseTime(q.Get("end_date"), "end_date"); err != nil {
		return err
	}
	rows, err := st.Report(r.Context(), rq)
	if err != nil {
		var e *llm.Error
		if asErr(err, &e) {
			return e
		}
		return &llm.Error{Kind: llm.KindInvalidRequest, Param: "group_by", Message: err.Error()}
	}
	type row struct {
		Group            string  `json:"group"`
		Requests         int64   `json:"requests"`
		InputTokens      int64   `json:"prompt_tokens"`
		OutputTokens     int64   `json:"completion_tokens"`
		CacheReadTokens  int64   `json:"cache_read_input_tokens"`
		CacheWriteTokens int64   `json:"cache_creation_input_tokens"`
		TotalTokens      int64   `json:"total_tokens"`
		Spend            float64 `json:"spend"`
	}
	out := make([]row, 0, len(rows))
	for _, x := range rows {
		out = append(out, row{x.Group, x.Requests, x.InputTokens, x.OutputTokens, x.CacheReadTokens, x.CacheWriteTokens, x.TotalTokens, x.Cost})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"group_by": rq.GroupBy, "data": out})
}

func asErr(err error, e **llm.Error) bool {
	le, ok := err.(*llm.Error)
	if ok {
		*e = le
	}
	return ok
}

// handleStats serves GET /stats?window=1h: requests, errors, tokens, cost and
// latency percentiles per model group and per deployment.
func (s *Server) handleStats(w *httpd.Response, r *httpd.Request, _ *reqInfo) error {
	st, err := s.spendStore()
	if err != nil {
		return err
	}
	window := time.Hour
	if v := r.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return &llm.Error{Kind: llm.KindInvalidRequest, Param: "window", Message: "window must be a positive duration like 15m or 24h"}
		}
		window = d
	}
	until := time.Now()
	stats, err := st.Stats(r.Context(), until.Add(-window), until)
	if err != nil {
		return spendError(err)
	}
	type row struct {
		ModelGroup   string  `json:"model_group,omitempty"`
		DeploymentID string  `json:"model_id,omitempty"`
		Requests     int64   `json:"requests"`
		Errors       int64   `json:"errors"`
		InputTokens  int64   `json:"prompt_tokens"`
		OutputTokens int64   `json:"completion_tokens"`
		TotalTokens  int64   `json:"total_tokens"`
		Spend        float64 `json:"spend"`
		P50          float64 `json:"latency_p50_ms"`
		P95          float64 `json:"latency_p95_ms"`
		P99          float64 `json:"latency_p99_ms"`
	}
	conv := func(x spend.StatsRow) row {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		return row{x.ModelGroup, x.DeploymentID, x.Requests, x.Errors, x.InputTokens, x.OutputTokens, x.TotalTokens, x.Cost,
			ms(x.LatencyP50), ms(x.LatencyP95), ms(x.LatencyP99)}
	}
	byModel := make([]row, 0, len(stats.ByModel))
	for _, x := range stats.ByModel {
		byModel = append(byModel, conv(x))
	}
	byDep := make([]row, 0, len(stats.ByDeployment))
	for _, x := range stats.ByDeployment {
		byDep = append(byDep, conv(x))
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"window": window.String(), "since": stats.Since.UTC().Format(time.RFC3339), "until": stats.Until.UTC().Format(time.RFC3339),
		"total": conv(stats.Total), "by_model": byModel, "by_deployment": byDep,
	})
}
