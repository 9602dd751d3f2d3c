package edge

import (
	"bytes"
	"testing"
)

func TestChunkChecker(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", true},
		{"two chunks, hex sizes", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n", true},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", true},
		{"empty body", "0\r\n\r\n", true},
		{"extension", "5;name\r\nhello\r\n0\r\n\r\n", true},
		{"extension with a token value", "5;name=val\r\nhello\r\n0;x=y\r\n\r\n", true},
		{"extension with a quoted value", "5;name=\"a \\\" ;b\"\r\nhello\r\n0\r\n\r\n", true},
		{"two extensions with BWS", "5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", true},
		{"trailer", "5\r\nhello\r\n0\r\nX-Sum: 1 2\r\nX-B:\r\n\r\n", true},
		{"data may hold anything", "4\r\n\r\n\n\x00\r\n0\r\n\r\n", true},
		{"what follows the body is not checked", "0\r\n\r\nGARBAGE \x00\n", true},
		{"incomplete is not malformed", "5\r\nhel", true},

		{"bare semicolon", "5;\r\nhello\r\n0\r\n\r\n", false},
		{"semicolon then space", "5; \r\nhello\r\n0\r\n\r\n", false},
		{"invalid token in a name", "5;n@me\r\nhello\r\n0\r\n\r\n", false},
		{"control character in an extension", "5;a=\x01\r\nhello\r\n0\r\n\r\n", false},
		{"control character in a quoted value", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", false},
		{"empty value", "5;a=\r\nhello\r\n0\r\n\r\n", false},
		{"whitespace after the size", "5 \r\nhello\r\n0\r\n\r\n", false},
		{"whitespace after a value", "5;a=b \r\nhello\r\n0\r\n\r\n", false},
		{"tab before the size", "\t5\r\nhello\r\n0\r\n\r\n", false},
		{"no size", "\r\nhello\r\n0\r\n\r\n", false},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", false},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n", false},
		{"size too long", "00000000000000005\r\nhello\r\n0\r\n\r\n", false},
		{"bare LF after the size", "5\nhello\r\n0\r\n\r\n", false},
		{"bare CR after the size", "5\rhello\r\n0\r\n\r\n", false},
		{"data longer than its size", "3\r\nhello\r\n0\r\n\r\n", false},
		{"bare LF after the data", "5\r\nhello\n0\r\n\r\n", false},
		{"bare LF ending the last chunk", "5\r\nhello\r\n0\n\r\n", false},
		{"bare LF ending the body", "5\r\nhello\r\n0\r\n\n", false},
		{"bare LF ending a trailer", "5\r\nhello\r\n0\r\nX-A: 1\n\r\n", false},
		{"obs-fold in a trailer", "5\r\nhello\r\n0\r\nX-A: 1\r\n 2\r\n\r\n", false},
		{"trailer without a colon", "5\r\nhello\r\n0\r\nX-A 1\r\n\r\n", false},
		{"space before a trailer's colon", "5\r\nhello\r\n0\r\nX-A : 1\r\n\r\n", false},
		{"control character in a trailer", "5\r\nhello\r\n0\r\nX-A: \x01\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, and in every split in two: the verdict is the same.
			for cut := 0; cut <= len(tt.body); cut++ {
				var k chunkChecker
				_, err := k.feed([]byte(tt.body[:cut]))
				if err == nil {
					_, err = k.feed([]byte(tt.body[cut:]))
				}
				if (err == nil) != tt.ok {
					t.Fatalf("split at %d: feed(%q) = %v, want ok=%v", cut, tt.body, err, tt.ok)
				}
			}
		})
	}
}

func FuzzChunkChecker(f *testing.F) {
	f.Add([]byte("5;a=\"b\"\r\nhello\r\n0\r\nX: y\r\n\r\n"), 3)
	f.Add([]byte("5;\r\nhello\r\n0\r\n\r\n"), 2)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		var whole chunkChecker
		_, want := whole.feed(b)
		if cut < 0 || cut > len(b) {
			cut = len(b) / 2
		}
		// One byte at a time, or in two pieces: the same verdict.
		var bytewise, split chunkChecker
		var got error
		for i := range b {
			if _, got = bytewise.feed(b[i : i+1]); got != nil {
				break
			}
		}
		if (got == nil) != (want == nil) {
			t.Fatalf("feed(%q) = %v whole, %v a byte at a time", b, want, got)
		}
		_, got = split.feed(b[:cut])
		if got == nil {
			_, got = split.feed(b[cut:])
		}
		if (got == nil) != (want == nil) {
			t.Fatalf("feed(%q) = %v whole, %v split at %d", b, want, got, cut)
		}
		// A complete body ends in an empty line, and nothing after it is
		// checked.
		if want == nil && whole.st == chDone {
			if !bytes.Contains(b, []byte("\r\n\r\n")) {
				t.Fatalf("feed(%q) done without an empty line", b)
			}
			if _, err := whole.feed([]byte("\x00 junk\n")); err != nil {
				t.Fatalf("bytes after the complete body %q refused: %v", b, err)
			}
		}
	})
}
