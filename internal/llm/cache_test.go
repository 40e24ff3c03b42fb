package llm

import (
	"fmt"
	"testing"
)

func TestCacheStartsOverPastItsBound(t *testing.T) {
	c := Cache[int, string]{Max: 3}
	for i := range 3 {
		c.Store(i, fmt.Sprint(i))
	}
	if v, ok := c.Load(2); !ok || v != "2" {
		t.Fatalf("Load(2) = %q, %v", v, ok)
	}
	c.Store(3, "3") // past the bound: the cache starts over with it
	if _, ok := c.Load(0); ok {
		t.Fatal("an entry outlived the start-over")
	}
	if v, ok := c.Load(3); !ok || v != "3" || c.Len() != 1 {
		t.Fatalf("Load(3) = %q, %v; Len %d", v, ok, c.Len())
	}
}
