package llm

import (
	"sync"
	"sync/atomic"
)

// Cache is a concurrent map bounded to Max entries: past the bound it
// starts over. It holds what clients send again and again (Claude Code's
// tool definitions and their encodings), keyed by their bytes.
type Cache[K comparable, V any] struct {
	Max int64
	m   sync.Map
	n   atomic.Int64
}

// Load returns the value stored for k. It keeps nothing of k, so a key may
// point into memory that is reused once Load returns.
func (c *Cache[K, V]) Load(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// Store keeps v for k (a key it may keep: one of its own memory).
func (c *Cache[K, V]) Store(k K, v V) {
	if c.n.Add(1) > c.Max {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(k, v)
}

// Len is about how many entries the cache holds.
func (c *Cache[K, V]) Len() int64 { return c.n.Load() }
