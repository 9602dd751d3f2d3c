package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/popcache/popcache/conf"
)

// bus is the node's connection to NATS JetStream, and the embedded NATS
// server when the node runs one.
type bus struct {
	cfg       conf.PurgeBus
	retention time.Duration
	storage   jetstream.StorageType
	ns        *server.Server // the embedded server; nil with URLs
	tmpDir    string         // embedded store without a purge dir; removed on close
	nc        *nats.Conn
	js        jetstream.JetStream
	log       *slog.Logger

	connected atomic.Bool
	downSince atomic.Int64 // Unix nanoseconds the connection was lost; 0 while connected
	closing   atomic.Bool  // close has begun: losing the connection is expected

	linkMu sync.Mutex
	// linked is closed (and replaced) each time the connection is
	// re-established (not at the first connection, whose handler may
	// run after sessions attached over it); protected by linkMu.
	linked chan struct{}
}

// relinked returns a channel closed the next time the connection is
// re-established. A session takes it before attaching: whatever the
// server delivered on a connection since lost stays unacknowledged on its
// consumer until the ack wait, so a reconnection means attaching afresh.
func (b *bus) relinked() <-chan struct{} {
	b.linkMu.Lock()
	defer b.linkMu.Unlock()
	if b.linked == nil {
		b.linked = make(chan struct{})
	}
	return b.linked
}

// open starts the embedded server (unless cfg has URLs) and connects.
// The connection retries in the background for ever: an unreachable bus
// delays purges but never fails the node. dir is the purge directory (""
// for none); name is the node ID. The zero bus is disconnected: its
// connected and downSince may be read before open, concurrently.
func (b *bus) open(cfg conf.PurgeBus, retention time.Duration, dir, name string, log *slog.Logger) error {
	b.cfg, b.retention, b.storage, b.log = cfg, retention, jetstream.FileStorage, log
	b.downSince.Store(time.Now().UnixNano())
	opts := []nats.Option{
		nats.Name("popcache " + name),
		nats.Timeout(cfg.ConnectTimeout.D()),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(b.up),
		nats.ReconnectHandler(b.reconnected),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.down(err) }),
		nats.ClosedHandler(func(*nats.Conn) { b.down(nil) }),
	}
	url := ""
	if len(cfg.URLs) == 0 {
		if err := b.startServer(dir, name); err != nil {
			return err
		}
		opts = append(opts, nats.InProcessServer(b.ns))
	} else {
		for i, u := range cfg.URLs {
			if i > 0 {
				url += ","
			}
			url += u
		}
		if cfg.CredentialsFile != "" {
			opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.close()
		return fmt.Errorf("purge: connect to the bus: %w", err)
	}
	b.nc = nc
	if nc.IsConnected() {
		b.up(nc)
	}
	if b.js, err = jetstream.New(nc); err != nil {
		b.close()
		return fmt.Errorf("purge: jetstream: %w", err)
	}
	return nil
}

// startServer runs the embedded NATS server with JetStream, on loopback.
// Its store is dir/nats, or a temporary directory (and the stream in
// memory) without a purge directory.
func (b *bus) startServer(dir, name string) error {
	host, portStr, err := net.SplitHostPort(b.cfg.Listen)
	if err != nil {
		return fmt.Errorf("purge: embedded NATS listen %q: %w", b.cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("purge: embedded NATS listen %q: %w", b.cfg.Listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	store := filepath.Join(dir, "nats")
	if dir == "" {
		if store, err = os.MkdirTemp("", "popcache-nats-"); err != nil {
			return fmt.Errorf("purge: embedded NATS store: %w", err)
		}
		b.tmpDir = store
		b.storage = jetstream.MemoryStorage
	}
	ns, err := server.NewServer(&server.Options{
		ServerName:         "popcache-" + name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           store,
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         4 << 20,
	})
	if err != nil {
		b.close()
		return fmt.Errorf("purge: embedded NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		b.close()
		return errors.New("purge: embedded NATS server did not start within 10s")
	}
	b.ns = ns
	return nil
}

// ClientURL is the embedded server's client URL, for other nodes to join;
// "" with URLs.
func (b *bus) clientURL() string {
	if b.ns == nil {
		return ""
	}
	return b.ns.ClientURL()
}

// reconnected is up after a lost connection came back: the sessions
// attached over the lost one are stale (relinked).
func (b *bus) reconnected(nc *nats.Conn) {
	b.linkMu.Lock()
	if b.linked != nil {
		close(b.linked)
	}
	b.linked = make(chan struct{})
	b.linkMu.Unlock()
	b.up(nc)
}

func (b *bus) up(nc *nats.Conn) {
	if !b.connected.Swap(true) {
		server := nc.ConnectedUrlRedacted()
		if b.ns != nil {
			server = "embedded " + b.ns.ClientURL()
		}
		b.log.Info("purge bus connected", "server", server)
	}
	b.downSince.Store(0)
}

func (b *bus) down(err error) {
	if b.connected.Swap(false) && !b.closing.Load() {
		b.downSince.Store(time.Now().UnixNano())
		b.log.Warn("purge bus disconnected: purges are delayed, serving goes on", "err", err)
	}
}

// stream returns the purge stream, creating it if needed.
func (b *bus) stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := b.js.Stream(ctx, b.cfg.Stream)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("purge: stream %s: %w", b.cfg.Stream, err)
	}
	s, err = b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        b.cfg.Stream,
		Description: "popcache purges",
		Subjects:    []string{b.cfg.Subject + ".>"},
		Storage:     b.storage,
		Replicas:    b.cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      b.retention,
		Duplicates:  min(10*time.Minute, b.retention),
		MaxMsgSize:  4 << 20,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return b.js.Stream(ctx, b.cfg.Stream) // another node created it first
	}
	if err != nil {
		return nil, fmt.Errorf("purge: create stream %s: %w", b.cfg.Stream, err)
	}
	return s, nil
}

// subject is the subject of purge id.
func (b *bus) subject(id string) string { return b.cfg.Subject + "." + id }

// publish stores m on the stream and returns its sequence once JetStream
// has stored it. The purge ID is the message ID, so a retried publish is
// stored once.
func (b *bus) publish(ctx context.Context, m *message) (uint64, error) {
	ack, err := b.js.Publish(ctx, b.subject(m.ID), m.encode(), jetstream.WithMsgID(m.ID), jetstream.WithExpectStream(b.cfg.Stream))
	if err != nil {
		return 0, fmt.Errorf("purge: publish %s: %w", m.ID, err)
	}
	return ack.Sequence, nil
}

// close drains the connection and stops the embedded server.
func (b *bus) close() {
	b.closing.Store(true)
	if b.nc != nil {
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
	if b.tmpDir != "" {
		os.RemoveAll(b.tmpDir)
	}
}
