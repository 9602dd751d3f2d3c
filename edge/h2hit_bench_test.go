package edge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkH2HitRawLoopback is a 1 KiB memory hit over HTTP/2 with prior
// knowledge on a real loopback connection, one stream at a time, from a
// raw client that allocates nothing per request: through the hit path
// (edge/internal/h2) and through the same HTTP/2 server without it, a
// handler goroutine per stream. Their ratio is what the hit path saves,
// measured in the same run.
func BenchmarkH2HitRawLoopback(b *testing.B) {
	for _, mode := range []string{"hit-path", "handler"} {
		b.Run(mode, func(b *testing.B) {
			n := launchBenchNode(b, mode != "handler")
			c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			cl := newRawH2Bench(b, c)
			cl.hit(1) // the connection's first exchange, SETTINGS included
			b.ReportAllocs()
			id := uint32(3)
			for b.Loop() {
				cl.hit(id)
				id += 2
			}
		})
	}
}

// rawH2Bench is an HTTP/2 client that sends one prepared GET and reads
// its answer frame by frame, with no allocation per request.
type rawH2Bench struct {
	b      *testing.B
	c      net.Conn
	br     *bufio.Reader
	req    []byte // a HEADERS frame whose stream ID is patched in
	ack    []byte // a SETTINGS acknowledgement
	hdr    [9]byte
	status bool // saw a :status 200 in the last answer
}

func newRawH2Bench(b *testing.B, c net.Conn) *rawH2Bench {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	// Never-indexed literals: the block leaves no state in the server's
	// decoder, so the same bytes serve every request.
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", strings.TrimPrefix(c.RemoteAddr().String(), "")}, {":path", "/obj"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1], Sensitive: true})
	}
	var frames, req, ack bytes.Buffer
	fr := http2.NewFramer(&frames, nil)
	io.WriteString(&frames, http2.ClientPreface)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	fr.WriteWindowUpdate(0, 1<<30)
	if _, err := c.Write(frames.Bytes()); err != nil {
		b.Fatal(err)
	}
	http2.NewFramer(&req, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
	http2.NewFramer(&ack, nil).WriteSettingsAck()
	return &rawH2Bench{b: b, c: c, br: bufio.NewReaderSize(c, 64<<10), req: req.Bytes(), ack: ack.Bytes()}
}

// hit sends the GET on stream id and reads frames until that stream
// ends, acknowledging the server's SETTINGS on the way.
func (r *rawH2Bench) hit(id uint32) {
	binary.BigEndian.PutUint32(r.req[5:9], id)
	if _, err := r.c.Write(r.req); err != nil {
		r.b.Fatal(err)
	}
	var body int
	for {
		if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
			r.b.Fatal(err)
		}
		length := int(r.hdr[0])<<16 | int(r.hdr[1])<<8 | int(r.hdr[2])
		typ, flags, stream := http2.FrameType(r.hdr[3]), http2.Flags(r.hdr[4]), binary.BigEndian.Uint32(r.hdr[5:9])&(1<<31-1)
		if _, err := r.br.Discard(length); err != nil {
			r.b.Fatal(err)
		}
		switch {
		case typ == http2.FrameSettings && flags&http2.FlagSettingsAck == 0:
			if _, err := r.c.Write(r.ack); err != nil {
				r.b.Fatal(err)
			}
		case typ == http2.FrameGoAway || typ == http2.FrameRSTStream && stream == id:
			r.b.Fatalf("stream %d: frame %v", id, typ)
		case stream == id && typ == http2.FrameData:
			body += length
		}
		if stream == id && (typ == http2.FrameHeaders || typ == http2.FrameData) && flags&http2.FlagDataEndStream != 0 {
			if body != 1<<10 {
				r.b.Fatalf("stream %d: %d body bytes, want 1024", id, body)
			}
			return
		}
	}
}
