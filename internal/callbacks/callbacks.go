// Package callbacks sends finished-call records to external collectors:
// Langfuse, a generic webhook and OpenTelemetry (OTLP/HTTP JSON traces), as
// named by litellm_settings success_callback, failure_callback and callbacks.
//
// Every sink runs off the request path: Record copies the record into a
// bounded queue and returns; one goroutine per sink batches the queue and
// posts it with a timeout. A full queue, a collector that is down, slow or
// rejecting costs a counted drop (DropCounter) and a rate-limited log line,
// never a blocked request.
package callbacks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/record"
)

// DropCounter counts records a sink dropped. *metrics.Metrics implements it.
type DropCounter interface {
	Dropped(sink string)
}

// Defaults for Settings' zero values.
const (
	DefaultQueueSize     = 10000
	DefaultBatchSize     = 100
	DefaultFlushInterval = time.Second
	DefaultHTTPTimeout   = 10 * time.Second
	DefaultLangfuseHost  = "https://cloud.langfuse.com"
	DefaultOTLPEndpoint  = "http://localhost:4318"
)

// Settings says which callbacks to run and where they send.
// Empty strings fall back to the environment variables LiteLLM reads.
type Settings struct {
	// Strict makes an unknown callback name, or a sink without its
	// credentials or URL, an error; otherwise it is a warning and the sink is
	// left out (the seed guide names langfuse without keys).
	Strict bool
	// SuccessCallback sinks get successes only, FailureCallback sinks
	// failures only, Callbacks sinks both.
	SuccessCallback []string
	FailureCallback []string
	Callbacks       []string

	// Langfuse; else LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST.
	LangfusePublicKey string
	LangfuseSecretKey string
	LangfuseHost      string

	// WebhookURL for "webhook"/"generic_api"; else GENERIC_LOGGER_ENDPOINT.
	// WebhookHeaders are added to each POST; else GENERIC_LOGGER_HEADERS
	// ("k1=v1,k2=v2").
	WebhookURL     string
	WebhookHeaders map[string]string

	// OTLPEndpoint is the collector base URL (…/v1/traces is appended); else
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), OTEL_EXPORTER_OTLP_ENDPOINT,
	// then DefaultOTLPEndpoint. OTLPHeaders; else OTEL_EXPORTER_OTLP_HEADERS.
	// ServiceName; else OTEL_SERVICE_NAME, then "switchyard".
	OTLPEndpoint string
	OTLPHeaders  map[string]string
	ServiceName  string

	// Queue and batching; zero means the Default* values.
	QueueSize     int
	BatchSize     int
	FlushInterval time.Duration
	HTTPTimeout   time.Duration

	// HTTPClient overrides the client (its Timeout is set from HTTPTimeout
	// when zero). Getenv overrides os.Getenv (tests).
	HTTPClient *http.Client
	Getenv     func(string) string
}

// FromConfig takes the callback fields of litellm_settings.
func FromConfig(ls config.LiteLLMSettings) Settings {
	return Settings{
		SuccessCallback:   ls.SuccessCallback,
		FailureCallback:   ls.FailureCallback,
		Callbacks:         ls.Callbacks,
		LangfusePublicKey: ls.LangfusePublicKey,
		LangfuseSecretKey: ls.LangfuseSecretKey,
		LangfuseHost:      ls.LangfuseHost,
	}
}

// ErrUnknownCallback is wrapped by New for a name it does not support.
var ErrUnknownCallback = errors.New("unknown callback")

// Canonical sink names.
const (
	NameLangfuse   = "langfuse"
	NamePrometheus = "prometheus"
	NameWebhook    = "webhook"
	NameOTel       = "otel"
)

// aliases maps every accepted spelling to a canonical name.
var aliases = map[string]string{
	"langfuse":            NameLangfuse,
	"prometheus":          NamePrometheus,
	"webhook":             NameWebhook,
	"generic":             NameWebhook,
	"generic_api":         NameWebhook,
	"custom_callback_api": NameWebhook,
	"otel":                NameOTel,
	"opentelemetry":       NameOTel,
}

// Supported lists the accepted callback names.
func Supported() []string {
	names := make([]string, 0, len(aliases))
	for n := range aliases {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// which records a sink receives.
type filter uint8

const (
	onSuccess filter = 1 << iota
	onFailure
)

func (f filter) accepts(r *record.Record) bool {
	if r.Status == record.StatusFailure {
		return f&onFailure != 0
	}
	return f&onSuccess != 0
}

// Dispatcher fans records out to the configured sinks. It implements
// record.Sink; Close flushes every sink.
type Dispatcher struct {
	sinks []*sink
}

var _ record.Sink = (*Dispatcher)(nil)

// New builds the sinks named in cfg. "prometheus" is accepted and needs no
// sink (metrics are always on). Unknown names, and a Langfuse or webhook sink
// without its credentials or URL, are errors. drops may be nil; log may be
// nil (slog.Default).
func New(cfg Settings, drops DropCounter, log *slog.Logger) (*Dispatcher, error) {
	if log == nil {
		log = slog.Default()
	}
	if drops == nil {
		drops = nopCounter{}
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	filters := map[string]filter{}
	var order []string
	var errs []error
	add := func(names []string, f filter) {
		for _, raw := range names {
			n := strings.ToLower(strings.TrimSpace(raw))
			if n == "" {
				continue
			}
			canon, ok := aliases[n]
			if !ok {
				if cfg.Strict {
					errs = append(errs, fmt.Errorf("callback %q: %w (supported: %s)", raw, ErrUnknownCallback, strings.Join(Supported(), ", ")))
				} else {
					log.Warn("config: callback not supported by Switchyard, ignored", "callback", raw, "supported", strings.Join(Supported(), ", "))
				}
				continue
			}
			if _, seen := filters[canon]; !seen {
				order = append(order, canon)
			}
			filters[canon] |= f
		}
	}
	add(cfg.SuccessCallback, onSuccess)
	add(cfg.FailureCallback, onFailure)
	add(cfg.Callbacks, onSuccess|onFailure)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	client := cfg.HTTPClient
	timeout := orDuration(cfg.HTTPTimeout, DefaultHTTPTimeout)
	if client == nil {
		client = &http.Client{Timeout: timeout}
	} else if client.Timeout == 0 {
		c := *client
		c.Timeout = timeout
		client = &c
	}

	d := &Dispatcher{}
	for _, name := range order {
		var exp exporter
		var err error
		switch name {
		case NamePrometheus:
			continue
		case NameLangfuse:
			exp, err = newLangfuse(cfg, getenv, client)
		case NameWebhook:
			exp, err = newWebhook(cfg, getenv, client)
		case NameOTel:
			exp, err = newOTel(cfg, getenv, client)
		}
		if err != nil {
			if errors.Is(err, ErrNotConfigured) && !cfg.Strict {
				// The seed guide names langfuse without keys: start anyway, and say so.
				log.Warn("config: callback disabled: "+err.Error(), "callback", name)
				continue
			}
			return nil, fmt.Errorf("callback %s: %w", name, err)
		}
		d.sinks = append(d.sinks, newSink(name, filters[name], exp, cfg, timeout, drops, log))
	}
	return d, nil
}

// Names lists the running sinks, for logs.
func (d *Dispatcher) Names() []string {
	out := make([]string, len(d.sinks))
	for i, s := range d.sinks {
		out[i] = s.name
	}
	return out
}

// Record queues r for every sink that wants it. It never blocks.
func (d *Dispatcher) Record(r *record.Record) {
	if r == nil || len(d.sinks) == 0 {
		return
	}
	var cp *record.Record // one copy shared by all sinks; they only read it
	for _, s := range d.sinks {
		if !s.filter.accepts(r) {
			continue
		}
		if cp == nil {
			c := *r
			cp = &c
		}
		s.enqueue(cp)
	}
}

// Close stops accepting records and flushes what is queued, until ctx ends;
// records still queued then are counted as dropped.
func (d *Dispatcher) Close(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(d.sinks))
	for i, s := range d.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.close(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

type nopCounter struct{}

func (nopCounter) Dropped(string) {}

func orDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orString(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// parseHeaders reads "k1=v1,k2=v2" (the OTEL_EXPORTER_OTLP_HEADERS format);
// percent-encoded values are decoded.
func parseHeaders(s string) map[string]string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	h := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if k = strings.TrimSpace(k); k != "" {
			v = strings.TrimSpace(v)
			if dv, err := url.PathUnescape(v); err == nil {
				v = dv
			}
			h[k] = v
		}
	}
	return h
}
