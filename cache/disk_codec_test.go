package cache

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

// Golden version 1 disk records. They must keep decoding to the same
// values forever: never edit them, add a version instead.
const (
	goldenObjectMarkerV1 = "" +
		"01" + "f322e1e4" + // version 1, CRC-32C
		"01" + "87ad4b" + // object, generation 1234567
		"8080e1ee96d3d7a830" + // until
		"e0a712" + "808010" + "d4ab12" + "9003" + // body size, chunk size, accounted bytes, meta bytes
		"80809ce3d081d6a830" // stored
	goldenVaryMarkerV1 = "" +
		"01" + "5ba52548" + // version 1, CRC-32C
		"02" + "63" + // Vary, generation 99
		"8080e1ee96d3d7a830" + // until
		"02" + "0f4163636570742d456e636f64696e67" + "0f4163636570742d4c616e6775616765" // fields
	goldenMetaRecordV1 = "" +
		"01" + "6b0b2e17" + // version 1, CRC-32C
		"1968747470733a2f2f6578616d706c652e636f6d2f613f623d31" + // key
		"01027431" + "07" + // tags ["t1"], purge generation 7
		goldenMetaV1 // the Meta, version 1 of its own encoding
	goldenIntentV1 = "01" + "c554ea95" + "80809ce3d081d6a830" // version 1, CRC-32C, started
)

var (
	goldenUntil  = time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)
	goldenStored = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarkerGoldenV1(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		want   marker
	}{
		{"object", goldenObjectMarkerV1, marker{kind: markerObject, gen: 1234567, until: goldenUntil, bodySize: 300000,
			chunkBytes: 262144, size: 300500, metaBytes: 400, stored: goldenStored}},
		{"vary", goldenVaryMarkerV1, marker{kind: markerVary, gen: 99, until: goldenUntil,
			fields: []string{"Accept-Encoding", "Accept-Language"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMarker(mustHex(t, tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.want)
			}
			if enc := hex.EncodeToString(appendMarker(nil, &tt.want)); enc != tt.golden {
				t.Errorf("encoding changed:\n%s\nwant\n%s\n(add a version instead)", enc, tt.golden)
			}
		})
	}
}

func TestMetaRecordGoldenV1(t *testing.T) {
	want := metaRecord{key: "https://example.com/a?b=1", tags: []string{"t1"}, purgeGen: 7, meta: goldenMeta()}
	got, err := decodeMetaRecord(mustHex(t, goldenMetaRecordV1))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v\nwant    %+v", got, want)
	}
	if enc := hex.EncodeToString(appendMetaRecord(nil, &want)); enc != goldenMetaRecordV1 {
		t.Errorf("encoding changed (add a version instead):\n%s", enc)
	}
}

func TestIntentGoldenV1(t *testing.T) {
	if enc := hex.EncodeToString(appendIntent(nil, goldenStored)); enc != goldenIntentV1 {
		t.Errorf("encoding changed (add a version instead):\n%s", enc)
	}
}

// TestRecordCorruption damages records every way: each is refused with
// errCorruptRecord, never decoded into something else, never a panic.
func TestRecordCorruption(t *testing.T) {
	records := map[string]func([]byte) error{
		"object marker": func(b []byte) error { _, err := decodeMarker(b); return err },
		"meta record":   func(b []byte) error { _, err := decodeMetaRecord(b); return err },
		"chunk":         func(b []byte) error { _, err := openRecord("chunk", b, chunkVersion1); return err },
	}
	goldens := map[string][]byte{
		"object marker": mustHex(t, goldenObjectMarkerV1),
		"meta record":   mustHex(t, goldenMetaRecordV1),
		"chunk":         seal(append(frameStart(nil, chunkVersion1), "some body bytes"...)),
	}
	for name, decode := range records {
		golden := goldens[name]
		if err := decode(golden); err != nil {
			t.Fatalf("%s: the intact record fails: %v", name, err)
		}
		t.Run(name, func(t *testing.T) {
			damages := []struct {
				name string
				b    []byte
			}{
				{"empty", nil},
				{"header only", golden[:recordHeader-1]},
				{"unknown version", append([]byte{9}, golden[1:]...)},
				{"truncated", golden[:len(golden)-1]},
				{"trailing byte", append(append([]byte(nil), golden...), 0)},
			}
			for i := range golden {
				b := append([]byte(nil), golden...)
				b[i] ^= 0x10
				damages = append(damages, struct {
					name string
					b    []byte
				}{"bit flipped", b})
			}
			for _, d := range damages {
				if err := decode(d.b); !errors.Is(err, errCorruptRecord) {
					t.Errorf("%s: err %v, want errCorruptRecord", d.name, err)
				}
			}
		})
	}
}

// FuzzDecodeMarker feeds the marker decoder garbage: no panic, and what
// decodes survives a round trip unchanged.
func FuzzDecodeMarker(f *testing.F) {
	f.Add(mustHexF(goldenObjectMarkerV1))
	f.Add(mustHexF(goldenVaryMarkerV1))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMarker(b)
		if err != nil {
			return
		}
		again, err := decodeMarker(appendMarker(nil, &m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Errorf("decoded %+v, round trip gives %+v, %v", m, again, err)
		}
	})
}

func mustHexF(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
