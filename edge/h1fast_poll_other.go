//go:build !linux

package edge

import (
	"net"
	"runtime"

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

// SpareProc returns GOMAXPROCS: there are no loops to make room beside.
func SpareProc(*conf.Server) int { return runtime.GOMAXPROCS(0) }
