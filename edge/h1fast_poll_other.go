//go:build !linux

package edge

import (
	"net"

	"github.com/popcache/popcache/conf"
)

// Event loops are Linux's (h1fast_poll_linux.go); elsewhere every
// connection keeps its goroutine.

type poller struct{}

type pollSlot struct{}

type pollConn struct {
	fd   int
	slot *pollSlot
}

func newPoller(*fastServer, int) *poller { return nil }
func (*poller) park(*fastConn) bool      { return false }
func (*poller) release(*fastConn)        {}
func (*poller) shutdown()                {}
func (*poller) waiting() int             { return 0 }
func pollFD(net.Conn) int                { return -1 }

// spareCPUs is 0: there are no loops to lend a P beside.
func spareCPUs(*conf.Server) int { return 0 }
