package llm

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrorKind classifies a failure by what the router and the client should do about it.
type ErrorKind int

// Error kinds. The router retries and falls back by kind; the server picks the
// client-facing status by kind.
const (
	KindInternal       ErrorKind = iota // a bug or an unexpected state: 500
	KindInvalidRequest                  // the request's own fault: 400, never retried
	KindAuth                            // the client's key is wrong: 401
	KindPermission                      // the key may not do this: 403
	KindNotFound                        // unknown model or route: 404
	KindRateLimit                       // backpressure: 429 with retry-after
	KindContextWindow                   // prompt longer than the model holds: 400, context_window_fallbacks
	KindContentPolicy                   // refused by a content filter: 400, content_policy_fallbacks
	KindTimeout                         // upstream too slow: 504 (408 upstream)
	KindUnavailable                     // upstream unreachable (dial, reset before a byte): 503
	KindUpstream                        // upstream 5xx or a broken reply: 502
	KindOverloaded                      // upstream overloaded (Anthropic 529): 529
	KindUpstreamAuth                    // the deployment's own key was refused: 502 to the client, cooldown
	KindClientGone                      // the client went away: 499, no mark against the upstream
)

var kindNames = [...]string{"internal", "invalid_request", "auth", "permission", "not_found", "rate_limit",
	"context_window", "content_policy", "timeout", "unavailable", "upstream", "overloaded", "upstream_auth", "client_gone"}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Status is the HTTP status a client sees for this kind.
func (k ErrorKind) Status() int {
	switch k {
	case KindInvalidRequest, KindContextWindow, KindContentPolicy:
		return http.StatusBadRequest
	case KindAuth:
		return http.StatusUnauthorized
	case KindPermission:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindRateLimit:
		return http.StatusTooManyRequests
	case KindTimeout:
		return http.StatusGatewayTimeout
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindUpstream, KindUpstreamAuth:
		return http.StatusBadGateway
	case KindOverloaded:
		return 529
	case KindClientGone:
		return 499
	}
	return http.StatusInternalServerError
}

// Retryable reports whether another attempt (same or other deployment) may succeed.
func (k ErrorKind) Retryable() bool {
	switch k {
	case KindRateLimit, KindTimeout, KindUnavailable, KindUpstream, KindOverloaded, KindUpstreamAuth:
		return true
	}
	return false
}

// Error is a classified failure. Message is safe to show the client; Err is
// the logged detail.
type Error struct {
	Kind    ErrorKind
	Message string
	// Param names the request field at fault, for KindInvalidRequest.
	Param string
	// Status is the upstream's HTTP status, 0 if none was received.
	Status int
	// RetryAfter is the upstream's or our own retry-after, 0 if none.
	RetryAfter time.Duration
	// Body is the upstream's error body, kept raw so a same-dialect client
	// gets it unchanged; BodyDialect says which dialect it is in.
	Body        []byte
	BodyDialect Dialect
	Err         error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an *Error of kind with a formatted public message.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// AsError finds the *Error in err's chain, or wraps err as KindInternal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Message: "internal error", Err: err}
}
