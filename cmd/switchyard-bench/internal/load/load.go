// Package load drives HTTP load at a loopback target: a closed loop of N
// connections, each sending its next request as soon as the last reply is
// whole (fasthttp client, so the load generator costs little), and an open
// loop at a fixed rate (vegeta as a library). Both are bounded in time and in
// request count, and check every reply (status 200 and a marker in the body,
// so an in-band stream error counts as an error).
package load

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/valyala/fasthttp"
)

// Target is one kind of request at one address.
type Target struct {
	// Addr is a loopback host:port.
	Addr string
	// Path is the request URI, e.g. /v1/chat/completions.
	Path   string
	Body   []byte
	Header [][2]string
	// Expect must appear in a good reply's body.
	Expect []byte
	// Timeout bounds one request (default 60s).
	Timeout time.Duration
}

// Result of one load run.
type Result struct {
	Requests   int             `json:"requests"`
	Errors     int             `json:"errors"`
	FirstError string          `json:"first_error,omitempty"`
	Elapsed    time.Duration   `json:"elapsed_ns"`
	Latencies  []time.Duration `json:"-"`
}

// CheckLoopback refuses any address that is not on the loopback interface.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load: %s is not a loopback address", addr)
	}
	return nil
}

func (t Target) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return 60 * time.Second
}

type errNote struct {
	once sync.Once
	msg  string
}

func (e *errNote) set(msg string) { e.once.Do(func() { e.msg = msg }) }

func check(status int, body, expect []byte) string {
	if status != http.StatusOK {
		b := body
		if len(b) > 200 {
			b = b[:200]
		}
		return fmt.Sprintf("status %d: %s", status, b)
	}
	if len(expect) > 0 && !bytes.Contains(body, expect) {
		b := body
		if len(b) > 300 {
			b = b[len(b)-300:]
		}
		return fmt.Sprintf("reply without %q: …%s", expect, b)
	}
	return ""
}

// Closed runs conns workers, each on its own connection, for dur or until
// maxRequests replies in all, whichever comes first.
func Closed(t Target, conns int, dur time.Duration, maxRequests int) (Result, error) {
	if err := CheckLoopback(t.Addr); err != nil {
		return Result{}, err
	}
	conns = max(conns, 1)
	hc := &fasthttp.HostClient{
		Addr:                          t.Addr,
		MaxConns:                      conns,
		MaxIdleConnDuration:           30 * time.Second,
		ReadTimeout:                   t.timeout(),
		WriteTimeout:                  t.timeout(),
		MaxConnWaitTimeout:            t.timeout(),
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		ReadBufferSize:                16 << 10,
	}
	defer hc.CloseIdleConnections()
	var (
		issued atomic.Int64
		errs   atomic.Int64
		note   errNote
		wg     sync.WaitGroup
	)
	lats := make([][]time.Duration, conns)
	start := time.Now()
	deadline := start.Add(dur)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var mine []time.Duration
			for time.Now().Before(deadline) && issued.Add(1) <= int64(maxRequests) {
				req.Reset()
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetRequestURI(t.Path)
				req.Header.SetHost(t.Addr)
				for _, h := range t.Header {
					req.Header.Set(h[0], h[1])
				}
				req.SetBodyRaw(t.Body)
				t0 := time.Now()
				err := hc.DoTimeout(req, resp, t.timeout())
				el := time.Since(t0)
				if err != nil {
					errs.Add(1)
					note.set(err.Error())
					// Do not spin on a target that refuses.
					time.Sleep(time.Millisecond)
					continue
				}
				if msg := check(resp.StatusCode(), resp.Body(), t.Expect); msg != "" {
					errs.Add(1)
					note.set(msg)
					continue
				}
				mine = append(mine, el)
			}
			lats[i] = mine
		}(i)
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start), Errors: int(errs.Load()), FirstError: note.msg}
	for _, l := range lats {
		res.Latencies = append(res.Latencies, l...)
	}
	res.Requests = len(res.Latencies)
	return res, nil
}

// Open sends rate requests per second for dur with vegeta, on at most
// maxConns connections, and waits for the replies.
func Open(t Target, rate int, dur time.Duration, maxConns int) (Result, error) {
	if err := CheckLoopback(t.Addr); err != nil {
		return Result{}, err
	}
	hdr := http.Header{}
	for _, h := range t.Header {
		hdr.Set(h[0], h[1])
	}
	tr := &http.Transport{
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	atk := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: tr, Timeout: t.timeout()}),
		vegeta.Workers(uint64(min(maxConns, 64))),
		vegeta.MaxWorkers(uint64(maxConns)),
		vegeta.MaxBody(4<<20),
	)
	tg := vegeta.NewStaticTargeter(vegeta.Target{
		Method: http.MethodPost,
		URL:    "http://" + t.Addr + t.Path,
		Body:   t.Body,
		Header: hdr,
	})
	var (
		res  Result
		note errNote
	)
	start := time.Now()
	for r := range atk.Attack(tg, vegeta.Rate{Freq: rate, Per: time.Second}, dur, "bench") {
		msg := r.Error
		if msg == "" || strings.HasPrefix(msg, "200") {
			msg = check(int(r.Code), r.Body, t.Expect)
		}
		if msg != "" {
			res.Errors++
			note.set(msg)
			continue
		}
		res.Latencies = append(res.Latencies, r.Latency)
	}
	res.Elapsed = time.Since(start)
	res.Requests = len(res.Latencies)
	res.FirstError = note.msg
	return res, nil
}

// Quantiles of latencies (sorted in place): q in (0, 1].
func Quantiles(lat []time.Duration, qs ...float64) []time.Duration {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	out := make([]time.Duration, len(qs))
	if len(lat) == 0 {
		return out
	}
	for i, q := range qs {
		k := int(q*float64(len(lat))+0.999999) - 1
		k = min(max(k, 0), len(lat)-1)
		out[i] = lat[k]
	}
	return out
}
