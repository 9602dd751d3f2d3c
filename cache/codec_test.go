package cache

import (
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// goldenMeta is the Meta whose version 1 encoding is goldenMetaV1.
func goldenMeta() Meta {
	return Meta{
		Status: 200,
		Header: http.Header{
			"Cache-Control": {"max-age=60"},
			"Content-Type":  {"text/plain"},
			"Set-Cookie":    {"a=1", "b=2"},
		},
		Targeted:             http.Header{"Cdn-Cache-Control": {"max-age=600"}},
		RequestTime:          time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		ResponseTime:         time.Date(2025, 3, 1, 12, 0, 1, 500, time.UTC),
		CorrectedInitialAge:  3 * time.Second,
		Lifetime:             10 * time.Minute,
		Heuristic:            true,
		StaleWhileRevalidate: 30 * time.Second,
		StaleIfError:         time.Hour,
		MustRevalidate:       true,
		NoCache:              false,
		VaryFields:           []string{"Accept-Encoding"},
		VaryKey:              "4:gzip",
		ETag:                 `"v1"`,
		LastModified:         "Sat, 01 Mar 2025 11:00:00 GMT",
		BodySize:             1234,
	}
}

// goldenMetaV1 is the version 1 encoding of goldenMeta. It must keep
// decoding to goldenMeta forever: never edit it, add a version instead.
const goldenMetaV1 = "" +
	"01c801" + // version 1, status 200
	"80809ce3d081d6a830e8aff29cd881d6a830" + // request and response times
	"80f882ad1680c0cbacf62280b09dc2df018080c58bc6d101" + // corrected initial age, lifetime, swr, sie
	"03" + // flags: Heuristic|MustRevalidate
	"04227631221d5361742c203031204d617220323032352031313a30303a303020474d54" + // ETag, Last-Modified
	"a413" + // body size
	"010f4163636570742d456e636f64696e6706343a677a6970" + // Vary fields, Vary key
	"030d43616368652d436f6e74726f6c010a6d61782d6167653d36300c436f6e74656e742d54797065010a746578742f706c61696e0a5365742d436f6f6b69650203613d3103623d32" + // Header
	"011143646e2d43616368652d436f6e74726f6c010b6d61782d6167653d363030" // Targeted

func TestMetaCodecGoldenV1(t *testing.T) {
	golden, err := hex.DecodeString(goldenMetaV1)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("version 1 bytes decode to the same Meta", func(t *testing.T) {
		got, err := DecodeMeta(golden)
		if err != nil {
			t.Fatal(err)
		}
		if want := goldenMeta(); !metaEqual(got, want) {
			t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
		}
	})
	t.Run("the encoder still writes version 1 bytes", func(t *testing.T) {
		m := goldenMeta()
		if got := hex.EncodeToString(m.AppendBinary(nil)); got != goldenMetaV1 {
			t.Errorf("AppendBinary =\n%s\nwant\n%s", got, goldenMetaV1)
		}
	})
}

// metaEqual compares Metas, times by instant.
func metaEqual(a, b Meta) bool {
	if !a.RequestTime.Equal(b.RequestTime) || !a.ResponseTime.Equal(b.ResponseTime) {
		return false
	}
	a.RequestTime, a.ResponseTime, b.RequestTime, b.ResponseTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestMetaCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    Meta
	}{
		{"zero Meta", Meta{}},
		{"golden Meta", goldenMeta()},
		{"evaluated response", func() Meta {
			m, _ := Evaluate(http.MethodGet, hdr("Accept-Encoding", "br"), 200,
				hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding", "Etag", `"x"`), t0, t1, defaultPolicy())
			return m
		}()},
		{"negative and large values", Meta{Status: 999, Lifetime: -1, CorrectedInitialAge: 1 << 62, BodySize: -1,
			RequestTime: time.Unix(0, -5).UTC(), ResponseTime: time.Unix(1<<33, 0).UTC()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.m.AppendBinary([]byte("prefix"))
			if string(b[:6]) != "prefix" {
				t.Fatalf("AppendBinary clobbered dst")
			}
			got, err := DecodeMeta(b[6:])
			if err != nil {
				t.Fatal(err)
			}
			if !metaEqual(got, tt.m) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, tt.m)
			}
			if again := got.AppendBinary(nil); string(again) != string(b[6:]) {
				t.Errorf("re-encoding differs")
			}
		})
	}
}

func TestDecodeMetaErrors(t *testing.T) {
	golden, _ := hex.DecodeString(goldenMetaV1)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{2}, golden[1:]...)},
		{"version 0", append([]byte{0}, golden[1:]...)},
		{"trailing bytes", append(append([]byte(nil), golden...), 0)},
		{"unknown flag bits", func() []byte {
			m := Meta{}
			b := m.AppendBinary(nil)
			b[8] = 0x80 // version, status, 2 times, 4 durations: 1+1+2+4 bytes, then flags
			return b
		}()},
		{"status out of range", func() []byte {
			m := Meta{Status: 1000}
			return m.AppendBinary(nil)
		}()},
		{"header names out of order", func() []byte {
			m := Meta{Header: http.Header{"A": {"1"}, "B": {"2"}}}
			b := m.AppendBinary(nil)
			// The header block ends: 02 01'A' 01 01'1' 01'B' 01 01'2', then 00 for Targeted.
			i := len(b) - 11
			b[i+2], b[i+7] = 'B', 'A'
			return b
		}()},
		{"a huge count", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"a varint overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeMeta(tt.b); !errors.Is(err, ErrCorruptMeta) {
				t.Errorf("DecodeMeta(%x) error = %v, want ErrCorruptMeta", tt.b, err)
			}
		})
	}
	t.Run("every truncation of the golden bytes is an error", func(t *testing.T) {
		for n := range len(golden) {
			if _, err := DecodeMeta(golden[:n]); !errors.Is(err, ErrCorruptMeta) {
				t.Fatalf("DecodeMeta(golden[:%d]) error = %v, want ErrCorruptMeta", n, err)
			}
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	golden, _ := hex.DecodeString(goldenMetaV1)
	f.Add(golden)
	zero := Meta{}
	f.Add(zero.AppendBinary(nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptMeta) {
				t.Fatalf("error %v does not wrap ErrCorruptMeta", err)
			}
			return
		}
		again, err := DecodeMeta(m.AppendBinary(nil))
		if err != nil {
			t.Fatalf("re-encoded Meta does not decode: %v", err)
		}
		if !metaEqual(again, m) {
			t.Fatalf("decode(encode(m)) != m:\n%+v\n%+v", again, m)
		}
	})
}

func BenchmarkMetaCodec(b *testing.B) {
	m := goldenMeta()
	buf := m.AppendBinary(nil)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]byte, 0, 512)
		for b.Loop() {
			dst = m.AppendBinary(dst[:0])
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeMeta(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
