package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The YAML document is converted once from goccy's AST into this small tree:
// aliases and merge keys resolved, every node with its position. The
// decoders then read it without caring about YAML's syntax variants.

type kind uint8

const (
	kindNull kind = iota
	kindString
	kindInt
	kindFloat
	kindBool
	kindMap
	kindSeq
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindString:
		return "a string"
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	}
	return "unknown"
}

type node struct {
	kind      kind
	line, col int

	str   string  // kindString: the value; other scalars: the source text
	i     int64   // kindInt
	f     float64 // kindFloat (and kindInt, converted)
	b     bool    // kindBool
	pairs []pair  // kindMap, in file order
	items []*node // kindSeq
}

type pair struct {
	key  string
	kpos *node // the key, for its position
	val  *node
}

func (n *node) isScalar() bool { return n.kind != kindMap && n.kind != kindSeq }

// maxNodes bounds the tree, aliases expanded, so that an alias bomb is an
// error rather than an out-of-memory crash. Real configs have a few hundred.
const (
	maxNodes = 200_000
	maxDepth = 100
)

type converter struct {
	file    string
	anchors map[string]ast.Node
	count   int
	err     *Error
}

func (c *converter) fail(line, col int, hint, format string, args ...any) *node {
	if c.err == nil {
		c.err = &Error{File: c.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...), Hint: hint}
	}
	return &node{kind: kindNull, line: line, col: col}
}

// parseYAML parses data into the tree. An empty document gives a null node.
func parseYAML(file string, data []byte) (*node, *Error) {
	f, err := parseBytes(data)
	if err != nil {
		return nil, yamlError(file, err)
	}
	var body ast.Node
	docs := 0
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		docs++
		if docs > 1 {
			line, col := pos(d.Body)
			return nil, &Error{File: file, Line: line, Column: col, Message: "more than one YAML document in the file",
				Hint: "a LiteLLM config is one document; remove the second '---' section"}
		}
		body = d.Body
	}
	c := &converter{file: file, anchors: map[string]ast.Node{}}
	root := c.convert(body, 1, 1, 0)
	if c.err != nil {
		return nil, c.err
	}
	return root, nil
}

// parseBytes runs goccy's parser, turning a parser panic on hostile input
// into an error: a config loader must never crash the process.
func parseBytes(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("parser failure: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

// yamlError turns a goccy error into an *Error with the token's position.
func yamlError(file string, err error) *Error {
	e := &Error{File: file, Line: 1, Column: 1, Message: "invalid YAML: " + err.Error(),
		Hint: "check the indentation (spaces, not tabs) and the quoting around this line"}
	var te interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &te) {
		e.Message = "invalid YAML: " + te.GetMessage()
		if tk := te.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			e.Line, e.Column = tk.Position.Line, max(tk.Position.Column, 1)
		}
	}
	return e
}

// pos gives a node's position, or 0, 0.
func pos(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	var tk *token.Token
	switch v := n.(type) {
	case *ast.DocumentNode:
		return pos(v.Body)
	case *ast.MappingNode:
		if len(v.Values) > 0 && !v.IsFlowStyle {
			return pos(v.Values[0])
		}
		tk = v.Start
	case *ast.MappingValueNode:
		if v.Key != nil {
			return pos(v.Key)
		}
		tk = v.Start
	default:
		tk = n.GetToken()
	}
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (c *converter) convert(n ast.Node, line, col, depth int) *node {
	if c.err != nil {
		return &node{line: line, col: col}
	}
	if l, cl := pos(n); l > 0 {
		line, col = l, cl
	}
	c.count++
	if c.count > maxNodes {
		return c.fail(line, col, "reduce the use of YAML aliases (*name)", "document too large: more than %d values after expanding aliases", maxNodes)
	}
	if depth > maxDepth {
		return c.fail(line, col, "", "document nested more than %d levels deep", maxDepth)
	}
	switch v := n.(type) {
	case nil:
		return &node{kind: kindNull, line: line, col: col}
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: kindNull, line: line, col: col}
	case *ast.NullNode:
		return &node{kind: kindNull, line: line, col: col, str: "null"}
	case *ast.StringNode:
		return &node{kind: kindString, line: line, col: col, str: v.Value}
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &node{kind: kindString, line: line, col: col, str: s}
	case *ast.IntegerNode:
		out := &node{kind: kindInt, line: line, col: col, str: tokenText(v.Token)}
		switch x := v.Value.(type) {
		case int64:
			out.i, out.f = x, float64(x)
		case uint64:
			if x > math.MaxInt64 {
				out.kind, out.f = kindFloat, float64(x)
			} else {
				out.i, out.f = int64(x), float64(x)
			}
		default:
			return c.fail(line, col, "", "invalid integer %q", out.str)
		}
		return out
	case *ast.FloatNode:
		return &node{kind: kindFloat, line: line, col: col, f: v.Value, str: tokenText(v.Token)}
	case *ast.InfinityNode:
		return &node{kind: kindFloat, line: line, col: col, f: v.Value, str: tokenText(v.Token)}
	case *ast.NanNode:
		return &node{kind: kindFloat, line: line, col: col, f: math.NaN(), str: tokenText(v.Token)}
	case *ast.BoolNode:
		return &node{kind: kindBool, line: line, col: col, b: v.Value, str: tokenText(v.Token)}
	case *ast.AnchorNode:
		out := c.convert(v.Value, line, col, depth+1)
		if name := anchorName(v.Name); name != "" {
			c.anchors[name] = v.Value
		}
		return out
	case *ast.AliasNode:
		name := anchorName(v.Value)
		target, ok := c.anchors[name]
		if !ok {
			return c.fail(line, col, "define the anchor (&"+name+") before using it", "unknown alias *%s", name)
		}
		return c.convert(target, line, col, depth+1)
	case *ast.TagNode:
		out := c.convert(v.Value, line, col, depth+1)
		tag := ""
		if v.Start != nil {
			tag = v.Start.Value
		}
		if (tag == "!!str" || tag == "tag:yaml.org,2002:str") && out.isScalar() {
			out.kind = kindString
			if out.str == "null" && v.Value == nil {
				out.str = ""
			}
		}
		return out
	case *ast.MappingNode:
		out := &node{kind: kindMap, line: line, col: col}
		for _, mv := range v.Values {
			c.addPair(out, mv, depth+1)
		}
		return out
	case *ast.MappingValueNode:
		out := &node{kind: kindMap, line: line, col: col}
		c.addPair(out, v, depth+1)
		return out
	case *ast.SequenceNode:
		out := &node{kind: kindSeq, line: line, col: col}
		for _, it := range v.Values {
			out.items = append(out.items, c.convert(it, line, col, depth+1))
		}
		return out
	case *ast.DocumentNode:
		return c.convert(v.Body, line, col, depth+1)
	default:
		return c.fail(line, col, "", "unsupported YAML construct (%s)", n.Type())
	}
}

func tokenText(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	return tk.Value
}

func anchorName(n ast.Node) string {
	if n == nil {
		return ""
	}
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// addPair adds one key: value to m, expanding a merge key (<<).
func (c *converter) addPair(m *node, mv *ast.MappingValueNode, depth int) {
	if mv == nil || c.err != nil {
		return
	}
	kl, kc := pos(mv)
	if kl == 0 {
		kl, kc = m.line, m.col
	}
	if mv.Key != nil && mv.Key.IsMergeKey() {
		src := c.convert(mv.Value, kl, kc, depth+1)
		var maps []*node
		switch src.kind {
		case kindMap:
			maps = []*node{src}
		case kindSeq:
			maps = src.items
		}
		for _, sm := range maps {
			if sm.kind != kindMap {
				c.fail(kl, kc, "", "merge key << needs a mapping or a list of mappings")
				return
			}
			for _, p := range sm.pairs {
				if m.lookup(p.key) == nil {
					m.pairs = append(m.pairs, p)
				}
			}
		}
		if len(maps) == 0 && src.kind != kindNull {
			c.fail(kl, kc, "", "merge key << needs a mapping or a list of mappings")
		}
		return
	}
	k := c.convert(mv.Key, kl, kc, depth+1)
	if !k.isScalar() {
		c.fail(k.line, k.col, "", "mapping keys must be plain values, not %s", k.kind)
		return
	}
	key := k.str
	if k.kind == kindString {
		key = k.str
	}
	val := c.convert(mv.Value, k.line, k.col, depth+1)
	// A later key overrides one merged in with <<; a duplicate written
	// twice is rejected by the parser already.
	for i := range m.pairs {
		if m.pairs[i].key == key {
			m.pairs[i] = pair{key: key, kpos: k, val: val}
			return
		}
	}
	m.pairs = append(m.pairs, pair{key: key, kpos: k, val: val})
}

func (n *node) lookup(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for _, p := range n.pairs {
		if p.key == key {
			return p.val
		}
	}
	return nil
}

// scalarText is the text of a scalar as a string value.
func (n *node) scalarText() string {
	switch n.kind {
	case kindString:
		return n.str
	case kindNull:
		return ""
	case kindInt:
		return strconv.FormatInt(n.i, 10)
	case kindBool:
		return strconv.FormatBool(n.b)
	}
	return n.str
}
