package fakeup

import (
	"fmt"
	"strings"
)

const created = 1700000000

func (rep Reply) finish(openai bool) string {
	if rep.FinishReason != "" {
		return rep.FinishReason
	}
	if rep.ToolCall != "" {
		if openai {
			return "tool_calls"
		}
		return "tool_use"
	}
	if openai {
		return "stop"
	}
	return "end_turn"
}

func (rep Reply) args() string {
	if rep.ToolArgs == "" {
		return "{}"
	}
	return rep.ToolArgs
}

// message is the non-streamed reply.
func (s *Server) message(model string, rep Reply) []byte {
	switch s.Dialect {
	case Anthropic:
		var content []string
		if rep.Thinking != "" {
			content = append(content, fmt.Sprintf(`{"type":"thinking","thinking":%s,"signature":"c2ln"}`, js(rep.Thinking)))
		}
		if rep.Text != "" {
			content = append(content, fmt.Sprintf(`{"type":"text","text":%s}`, js(rep.Text)))
		}
		if rep.ToolCall != "" {
			content = append(content, fmt.Sprintf(`{"type":"tool_use","id":"toolu_fake01","name":%s,"input":%s}`, js(rep.ToolCall), rep.args()))
		}
		usage := fmt.Sprintf(`{"input_tokens":%d,"output_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}`, rep.InputTokens, rep.OutputTokens)
		if rep.NoUsage {
			usage = `{"input_tokens":0,"output_tokens":0}`
		}
		return fmt.Appendf(nil, `{"id":"msg_fake01","type":"message","role":"assistant","model":%s,"content":[%s],"stop_reason":%q,"stop_sequence":null,"usage":%s}`,
			js(model), strings.Join(content, ","), rep.finish(false), usage)
	case Ollama:
		msg := fmt.Sprintf(`{"role":"assistant","content":%s`, js(rep.Text))
		if rep.Thinking != "" {
			msg += fmt.Sprintf(`,"thinking":%s`, js(rep.Thinking))
		}
		if rep.ToolCall != "" {
			msg += fmt.Sprintf(`,"tool_calls":[{"function":{"name":%s,"arguments":%s}}]`, js(rep.ToolCall), rep.args())
		}
		msg += "}"
		reason := rep.FinishReason
		if reason == "" {
			reason = "stop"
		}
		counts := fmt.Sprintf(`,"prompt_eval_count":%d,"eval_count":%d`, rep.InputTokens, rep.OutputTokens)
		if rep.NoUsage {
			counts = ""
		}
		return fmt.Appendf(nil, `{"model":%s,"created_at":"2026-11-25T00:00:00Z","message":%s,"done":true,"done_reason":%q,"total_duration":1000%s}`,
			js(model), msg, reason, counts)
	}
	msg := `{"role":"assistant","content":` + js(nilIfEmpty(rep.Text))
	if rep.Thinking != "" {
		msg += `,"reasoning_content":` + js(rep.Thinking)
	}
	if rep.ToolCall != "" {
		msg += fmt.Sprintf(`,"tool_calls":[{"id":"call_0","type":"function","function":{"name":%s,"arguments":%s}}]`, js(rep.ToolCall), js(rep.args()))
	}
	msg += "}"
	usage := fmt.Sprintf(`,"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, rep.InputTokens, rep.OutputTokens, rep.InputTokens+rep.OutputTokens)
	if rep.NoUsage {
		usage = ""
	}
	return fmt.Appendf(nil, `{"id":"chatcmpl-fake01","object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,"message":%s,"logprobs":null,"finish_reason":%q}]%s}`,
		created, js(model), msg, rep.finish(true), usage)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// events is the streamed reply, one string per flushed event.
func (s *Server) events(model string, rep Reply, includeUsage bool) []string {
	switch s.Dialect {
	case Anthropic:
		return anthropicEvents(model, rep)
	case Ollama:
		return ollamaEvents(model, rep)
	}
	return openAIEvents(model, rep, includeUsage)
}

func openAIEvents(model string, rep Reply, includeUsage bool) []string {
	head := fmt.Sprintf(`{"id":"chatcmpl-fake01","object":"chat.completion.chunk","created":%d,"model":%s,`, created, js(model))
	chunk := func(delta, finish string) string {
		f := "null"
		if finish != "" {
			f = fmt.Sprintf("%q", finish)
		}
		return "data: " + head + `"choices":[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + f + "}]}\n\n"
	}
	out := []string{chunk(`{"role":"assistant","content":""}`, "")}
	for _, t := range split(rep.Thinking, rep.Chunks) {
		out = append(out, chunk(`{"reasoning_content":`+js(t)+`}`, ""))
	}
	for _, t := range split(rep.Text, rep.Chunks) {
		out = append(out, chunk(`{"content":`+js(t)+`}`, ""))
	}
	if rep.ToolCall != "" {
		out = append(out, chunk(fmt.Sprintf(`{"tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":%s,"arguments":""}}]}`, js(rep.ToolCall)), ""))
		for _, a := range split(rep.args(), rep.Chunks) {
			out = append(out, chunk(fmt.Sprintf(`{"tool_calls":[{"index":0,"function":{"arguments":%s}}]}`, js(a)), ""))
		}
	}
	out = append(out, chunk(`{}`, rep.finish(true)))
	if includeUsage && !rep.NoUsage {
		out = append(out, "data: "+head+fmt.Sprintf(`"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n",
			rep.InputTokens, rep.OutputTokens, rep.InputTokens+rep.OutputTokens))
	}
	return append(out, "data: [DONE]\n\n")
}

func anthropicEvents(model string, rep Reply) []string {
	ev := func(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }
	in := rep.InputTokens
	if rep.NoUsage {
		in = 0
	}
	out := []string{ev("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_fake01","type":"message","role":"assistant","model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`, js(model), in))}
	idx := 0
	if rep.Thinking != "" {
		out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"thinking","thinking":"","signature":""}}`, idx)))
		for _, t := range split(rep.Thinking, rep.Chunks) {
			out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"thinking_delta","thinking":%s}}`, idx, js(t))))
		}
		out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"signature_delta","signature":"c2ln"}}`, idx)))
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)))
		idx++
	}
	if rep.Text != "" {
		out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, idx)))
		out = append(out, ev("ping", `{"type": "ping"}`))
		for _, t := range split(rep.Text, rep.Chunks) {
			out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%s}}`, idx, js(t))))
		}
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)))
		idx++
	}
	if rep.ToolCall != "" {
		out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":"toolu_fake01","name":%s,"input":{}}}`, idx, js(rep.ToolCall))))
		for _, a := range split(rep.args(), rep.Chunks) {
			out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, idx, js(a))))
		}
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)))
	}
	outTok := rep.OutputTokens
	if rep.NoUsage {
		outTok = 0
	}
	out = append(out, ev("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`, rep.finish(false), outTok)))
	return append(out, ev("message_stop", `{"type":"message_stop"}`))
}

func ollamaEvents(model string, rep Reply) []string {
	line := func(msg string, done bool, extra string) string {
		return fmt.Sprintf(`{"model":%s,"created_at":"2026-11-25T00:00:00Z","message":%s,"done":%t%s}`+"\n", js(model), msg, done, extra)
	}
	var out []string
	for _, t := range split(rep.Thinking, rep.Chunks) {
		out = append(out, line(fmt.Sprintf(`{"role":"assistant","content":"","thinking":%s}`, js(t)), false, ""))
	}
	for _, t := range split(rep.Text, rep.Chunks) {
		out = append(out, line(fmt.Sprintf(`{"role":"assistant","content":%s}`, js(t)), false, ""))
	}
	if rep.ToolCall != "" {
		out = append(out, line(fmt.Sprintf(`{"role":"assistant","content":"","tool_calls":[{"function":{"name":%s,"arguments":%s}}]}`, js(rep.ToolCall), rep.args()), false, ""))
	}
	reason := rep.FinishReason
	if reason == "" {
		reason = "stop"
	}
	extra := fmt.Sprintf(`,"done_reason":%q,"total_duration":1000,"load_duration":10,"prompt_eval_count":%d,"prompt_eval_duration":10,"eval_count":%d,"eval_duration":10`, reason, rep.InputTokens, rep.OutputTokens)
	if rep.NoUsage {
		extra = fmt.Sprintf(`,"done_reason":%q`, reason)
	}
	return append(out, line(`{"role":"assistant","content":""}`, true, extra))
}
