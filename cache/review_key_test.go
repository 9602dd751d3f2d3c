package cache

import (
	"testing"

	"github.com/popcache/popcache/conf"
)

// TestReviewRepeatedParamOrder: dea95ce keeps the order of a repeated
// parameter's values, since origins read the first (or the last) one.
// But the stable sort compares raw names while the origin decodes them:
// "%61" and "a" are one parameter to the origin, two names to the sort,
// which then puts them in the same order whatever order they came in.
func TestReviewRepeatedParamOrder(t *testing.T) {
	tests := []struct {
		name string
		a, b string // queries an origin reading the first "a" answers differently
	}{
		{"control: plain names", "a=1&a=2", "a=2&a=1"},
		{"encoded name", "a=2&%61=1", "%61=1&a=2"},
		{"hex case", "%6a=2&%6A=1", "%6A=1&%6a=2"},
		{"';' separated (origins that split on it read b first as 0, then 2)", "b=0&a=1;b=2", "a=1;b=2&b=0"},
		{"'+' and %20 in a name", "a+b=1&a%20b=2", "a%20b=2&a+b=1"},
	}
	r, err := NewKeyRecipe(conf.Key{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka := string(r.Append(nil, "http", "h", "/x", tt.a, nil))
			kb := string(r.Append(nil, "http", "h", "/x", tt.b, nil))
			if ka == kb {
				t.Errorf("?%s and ?%s share key %q", tt.a, tt.b, ka)
			}
		})
	}
}
