package cache

import (
	"net/http"
	"reflect"
	"testing"
)

func TestVaryFields(t *testing.T) {
	tests := []struct {
		name   string
		resp   http.Header
		fields []string
		star   bool
	}{
		{"no Vary", nil, nil, false},
		{"one field, canonicalised", hdr("Vary", "accept-encoding"), []string{"Accept-Encoding"}, false},
		{"sorted and deduplicated across lines",
			hdr("Vary", "Origin, accept-encoding", "Vary", "Accept-Encoding,  Accept-Language"),
			[]string{"Accept-Encoding", "Accept-Language", "Origin"}, false},
		{"empty members are skipped", hdr("Vary", " , ,Cookie,"), []string{"Cookie"}, false},
		{"non-token members are dropped", hdr("Vary", "bad name, X-Ok"), []string{"X-Ok"}, false},
		{"star alone", hdr("Vary", "*"), nil, true},
		{"star among fields (RFC 9110 §12.5.5)", hdr("Vary", "Cookie", "Vary", " * "), []string{"Cookie"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, star := VaryFields(tt.resp)
			if !reflect.DeepEqual(fields, tt.fields) || star != tt.star {
				t.Errorf("VaryFields = %q, %v; want %q, %v", fields, star, tt.fields, tt.star)
			}
			if star != varyStar(tt.resp) {
				t.Errorf("varyStar disagrees with VaryFields")
			}
		})
	}
}

func TestVaryKey(t *testing.T) {
	ae := []string{"Accept-Encoding"}
	lang := []string{"Accept-Language"}
	two := []string{"Accept-Language", "Origin"}
	tests := []struct {
		name   string
		fields []string
		a, b   http.Header
		same   bool
	}{
		{"absent and empty differ", lang, nil, hdr("Accept-Language", ""), false},
		{"equal values match", lang, hdr("Accept-Language", "fr"), hdr("Accept-Language", "fr"), true},
		{"different values differ", lang, hdr("Accept-Language", "fr"), hdr("Accept-Language", "de"), false},
		{"case is significant outside Accept-Encoding", lang, hdr("Accept-Language", "fr"), hdr("Accept-Language", "FR"), false},
		{"multiple lines equal one comma-joined line (RFC 9110 §5.3)", lang,
			hdr("Accept-Language", "fr", "Accept-Language", "de"), hdr("Accept-Language", "fr,de"), true},
		{"OWS around members is not significant", lang,
			hdr("Accept-Language", " fr ,\tde "), hdr("Accept-Language", "fr,de"), true},
		{"member order is significant", lang, hdr("Accept-Language", "fr,de"), hdr("Accept-Language", "de,fr"), false},
		{"values cannot run into the next field", two,
			hdr("Accept-Language", "a", "Origin", "b"), hdr("Accept-Language", "a-b"), false},
		{"a separator inside a value is not a field boundary", two,
			hdr("Accept-Language", "1:x", "Origin", ""), hdr("Accept-Language", "1", "Origin", "x"), false},
		{"fields not listed are ignored", lang,
			hdr("Accept-Language", "fr", "Cookie", "a=1"), hdr("Accept-Language", "fr", "Cookie", "a=2"), true},
		{"Accept-Encoding: order and q=1 do not matter", ae,
			hdr("Accept-Encoding", "gzip, deflate, br"), hdr("Accept-Encoding", "br;q=1.0, gzip, deflate"), true},
		{"Accept-Encoding: case does not matter", ae,
			hdr("Accept-Encoding", "GZIP"), hdr("Accept-Encoding", "gzip"), true},
		{"Accept-Encoding: x-gzip is gzip", ae,
			hdr("Accept-Encoding", "x-gzip"), hdr("Accept-Encoding", "gzip"), true},
		{"Accept-Encoding: q=0 refuses a coding", ae,
			hdr("Accept-Encoding", "gzip, br;q=0"), hdr("Accept-Encoding", "gzip"), true},
		{"Accept-Encoding: a coding both accepted and refused is refused", ae,
			hdr("Accept-Encoding", "gzip, br, gzip;q=0"), hdr("Accept-Encoding", "br"), true},
		{"Accept-Encoding: unknown codings collapse to identity", ae,
			hdr("Accept-Encoding", "compress, identity"), hdr("Accept-Encoding", ""), true},
		{"Accept-Encoding: absent is not identity", ae, nil, hdr("Accept-Encoding", "identity"), false},
		{"Accept-Encoding: different sets differ", ae,
			hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "gzip, zstd"), false},
		{"Accept-Encoding: * accepts all four", ae,
			hdr("Accept-Encoding", "*"), hdr("Accept-Encoding", "zstd, gzip, deflate, br"), true},
		{"Accept-Encoding: * minus a refused coding", ae,
			hdr("Accept-Encoding", "*, br;q=0"), hdr("Accept-Encoding", "zstd, gzip, deflate"), true},
		{"Accept-Encoding: *;q=0 accepts nothing extra", ae,
			hdr("Accept-Encoding", "gzip, *;q=0"), hdr("Accept-Encoding", "gzip"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := VaryKey(tt.fields, tt.a), VaryKey(tt.fields, tt.b)
			if (ka == kb) != tt.same {
				t.Errorf("VaryKey %q vs %q: same = %v, want %v", ka, kb, ka == kb, tt.same)
			}
		})
	}
}

func TestVaryKeyEncoding(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		req    http.Header
		want   string
	}{
		{"no fields", nil, hdr("Accept-Language", "fr"), ""},
		{"absent is -", []string{"Accept-Language"}, nil, "-"},
		{"empty is 0:", []string{"Accept-Language"}, hdr("Accept-Language", ""), "0:"},
		{"length-prefixed values in field order", []string{"Accept-Language", "Origin"},
			hdr("Accept-Language", "fr, de", "Origin", "https://a"), "5:fr,de9:https://a"},
		{"Accept-Encoding as a sorted coding set", []string{"Accept-Encoding"},
			hdr("Accept-Encoding", "zstd;q=0.5, gzip, br;q=0.0"), "9:gzip,zstd"},
		{"Accept-Encoding accepting none of ours is identity", []string{"Accept-Encoding"},
			hdr("Accept-Encoding", "compress"), "8:identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VaryKey(tt.fields, tt.req); got != tt.want {
				t.Errorf("VaryKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkVaryKey(b *testing.B) {
	fields := []string{"Accept-Encoding", "Accept-Language"}
	req := hdr("Accept-Encoding", "gzip, deflate, br, zstd", "Accept-Language", "en-US,en;q=0.9")
	b.ReportAllocs()
	for b.Loop() {
		VaryKey(fields, req)
	}
}
