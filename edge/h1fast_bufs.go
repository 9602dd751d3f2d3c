package edge

// Connection buffers. A connection's read and write buffers start at
// fastReadBuf bytes each. They come from a pool of its listener's and
// go back to it when the connection ends, as net/http's bufio readers
// and writers do: a load of short connections (Connection: close, one
// request per TLS handshake) would otherwise leave 8 KiB of garbage per
// connection to the collector. Grown buffers are left to it.

// connBuf is a pooled buffer.
type connBuf = [fastReadBuf]byte

// buf returns a buffer of fastReadBuf bytes from f's pool; its contents
// are a previous connection's, so only what the caller writes into it
// may be read.
func (f *fastServer) buf() []byte { return f.bufs.Get().(*connBuf)[:] }

// recycle gives c's buffers of the pooled size back to the pool when c
// is done with them for good (fastServer.forget): nothing else may hold
// a slice of them, so giveUp lets go of the read buffer whose unread
// bytes it hands to net/http. Its buffers are nil afterwards: a stale
// use could not reach the bytes of the connection that has them next.
// forget runs once per connection, so no buffer goes back twice.
func (c *fastConn) recycle() {
	if len(c.rbuf) == fastReadBuf {
		c.f.bufs.Put((*connBuf)(c.rbuf))
	}
	if cap(c.wbuf) == fastReadBuf {
		c.f.bufs.Put((*connBuf)(c.wbuf[:fastReadBuf]))
	}
	c.rbuf, c.wbuf, c.out = nil, nil, nil
}
