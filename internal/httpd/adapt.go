package httpd

import (
	"bytes"
	"net/http"
	"strconv"
)

// Adapt serves a net/http handler, for the few routes a library answers
// (Prometheus' /metrics). It builds an http.Request per call: not for a
// hot path.
func Adapt(h http.Handler) HandlerFunc {
	return func(w *Response, r *Request) {
		hr, err := http.NewRequestWithContext(r.Context(), r.Method, "http://switchyard"+r.RequestURI(), bytes.NewReader(r.Body))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.VisitHeaders(func(k, v []byte) { hr.Header.Add(string(k), string(v)) })
		hr.Host = r.Get("Host")
		hr.RemoteAddr = r.RemoteAddr.String()
		hr.ContentLength = int64(len(r.Body))
		h.ServeHTTP(&adaptWriter{w: w, h: http.Header{}}, hr)
	}
}

// adaptWriter is the http.ResponseWriter of an adapted handler.
type adaptWriter struct {
	w     *Response
	h     http.Header
	wrote bool
}

func (a *adaptWriter) Header() http.Header { return a.h }

func (a *adaptWriter) WriteHeader(code int) {
	if a.wrote {
		return
	}
	a.wrote = true
	for k, vs := range a.h {
		if http.CanonicalHeaderKey(k) == "Content-Length" {
			if n, err := strconv.Atoi(vs[0]); err == nil {
				a.w.SetContentLength(n)
			}
			continue
		}
		for _, v := range vs {
			a.w.Header().Add(k, v)
		}
	}
	a.w.WriteHeader(code)
}

func (a *adaptWriter) Write(p []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.w.Write(p)
}

func (a *adaptWriter) Flush() {
	a.WriteHeader(http.StatusOK)
	_ = a.w.Flush()
}
