//go:build !linux

package edge

import (
	"errors"
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

// answerAtAccept leaves every connection to its goroutine.
func (*fastConn) answerAtAccept() bool { return false }

// readNow is the blocking read's to do: there is no raw descriptor.
func (*fastConn) readNow() bool { return false }

// spareCPUs is 0: there are no loops to lend a P beside.
func spareCPUs(*conf.Server) int { return 0 }

// canSendfile is false: memory files are Linux's (cache.Pages).
func canSendfile(net.Conn) bool { return false }

// sendQueued is never called: no file is queued where canSendfile is
// false.
func (*fastConn) sendQueued() error { return errors.New("edge: no sendfile here") }
