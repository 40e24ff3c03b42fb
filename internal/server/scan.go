package server

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/llm"
)

// bodyInfo is what the gateway reads from a request body's top level, in
// one pass: the body can be 100 KB (Claude Code) and every extra scan costs.
type bodyInfo struct {
	// model is the raw "model" value; its Index is its offset in the body.
	model  gjson.Result
	stream bool
	// numRetries is the per-request num_retries, -1 when absent.
	numRetries int
	// The per-request fallback lists; nil when absent.
	fallbacks, cwFallbacks, cpFallbacks []string
	// gatewayFields lists which of gatewayFields the body has.
	gateway []string
	// body is what was scanned.
	body []byte
	// includeUsage is stream_options.include_usage; streamOptions says the
	// body has stream_options at all.
	includeUsage, streamOptions bool
	// user is "user", else metadata.user_id; tags are metadata.tags + tags.
	user string
	tags []string
	// members are the body's top-level members, for a decoder
	// (llm.ScannedDecoder) that need not scan the body again.
	members []llm.Member
}

// has reports whether the body sets top-level key k (a second look at the
// body: only deployments with extra params ask).
func (b *bodyInfo) has(k string) bool {
	return gjson.GetBytes(b.body, gjson.Escape(k)).Exists()
}

// gatewayField maps each of gatewayFields to itself: the name kept is not
// the body's.
var gatewayField = func() map[string]string {
	m := map[string]string{}
	for _, f := range gatewayFields {
		m[f] = f
	}
	return m
}()

// scanValid validates body and reads its top level in the same pass (see
// llm.ScanObject; known, which may be nil, holds the large values seen
// before). ok is false for a body that is not valid JSON. The results
// point into body, which must not change while they are used; the members
// are appended to members[:0].
func scanValid(body []byte, known *llm.KnownValues, members []llm.Member) (bi bodyInfo, ok bool) {
	bi = bodyInfo{numRetries: -1, body: body, members: members[:0]}
	var metaUser string
	ok = llm.ScanObject(body, known, func(key string, val []byte, at int) {
		bi.members = append(bi.members, llm.Member{Key: key, Val: val, Kept: known.Holds(val)})
		if f, isGateway := gatewayField[key]; isGateway {
			bi.gateway = append(bi.gateway, f)
		}
		// Only the values read here are parsed.
		parse := func() gjson.Result {
			v := gjson.Parse(unsafe.String(unsafe.SliceData(val), len(val)))
			v.Index = at
			return v
		}
		switch key {
		case "model":
			bi.model = parse()
		case "stream":
			bi.stream = parse().Bool()
		case "num_retries":
			if v := parse(); v.Type == gjson.Number {
				bi.numRetries = int(v.Int())
			}
		case "fallbacks":
			bi.fallbacks = names(parse())
		case "context_window_fallbacks":
			bi.cwFallbacks = names(parse())
		case "content_policy_fallbacks":
			bi.cpFallbacks = names(parse())
		case "stream_options":
			bi.streamOptions = true
			bi.includeUsage = parse().Get("include_usage").Bool()
		case "user":
			bi.user = parse().Str
		case "metadata":
			v := parse()
			metaUser = v.Get("user_id").Str
			for _, t := range v.Get("tags").Array() {
				bi.tags = append(bi.tags, t.Str)
			}
		case "tags":
			for _, t := range parse().Array() {
				bi.tags = append(bi.tags, t.Str)
			}
		}
	})
	if bi.user == "" {
		bi.user = metaUser
	}
	// Strings kept past the request are copied off the body.
	bi.user = strings.Clone(bi.user)
	for i, t := range bi.tags {
		bi.tags[i] = strings.Clone(t)
	}
	return bi, ok
}

// names reads a list of model names; nil when v is not a list.
func names(v gjson.Result) []string {
	if !v.IsArray() {
		return nil
	}
	out := []string{}
	for _, x := range v.Array() {
		if x.Type == gjson.String {
			out = append(out, strings.Clone(x.Str))
		}
	}
	return out
}

// withModel returns body with the top-level model value replaced by model,
// spliced at the offset the scan found (one copy, no re-parse).
func withModel(body []byte, at gjson.Result, model string) []byte {
	return rewriteBody(nil, body, at, model, "")
}

// rewriteBody appends to dst the body with the top-level model value
// replaced by model, spliced at the offset the scan found, and extra
// (members with a leading comma, or "") added before the object's closing
// brace: one copy, no re-parse.
func rewriteBody(dst, body []byte, at gjson.Result, model, extra string) []byte {
	end := bytes.LastIndexByte(body, '}')
	if at.Index <= 0 || at.Index+len(at.Raw) > end {
		out, err := setModel(body, model)
		if err != nil {
			return body
		}
		if extra != "" {
			if e := bytes.LastIndexByte(out, '}'); e > 0 {
				out = append(out[:e:e], extra+string(out[e:])...)
			}
		}
		return out
	}
	dst = slices.Grow(dst[:0], len(body)+len(model)+len(extra)+2-len(at.Raw))
	dst = append(dst, body[:at.Index]...)
	dst = appendJSONString(dst, model)
	dst = append(dst, body[at.Index+len(at.Raw):end]...)
	dst = append(dst, extra...)
	return append(dst, body[end:]...)
}

// appendJSONString appends s as a JSON string, as encoding/json writes it.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // escapes, and invalid UTF-8
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
