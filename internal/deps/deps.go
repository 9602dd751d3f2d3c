//go:build deps

// Package deps pins the modules popcache is built on while the packages that
// use them are written; it is compiled only with the "deps" build tag.
package deps

import (
	_ "cel.dev/cel-go/cel"
	_ "github.com/BurntSushi/toml"
	_ "github.com/andybalholm/brotli"
	_ "github.com/cloudflare/tableflip"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/dgraph-io/ristretto/v2"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/quic-go/quic-go/http3"
	_ "golang.org/x/net/http2"
	_ "golang.org/x/sync/singleflight"
	_ "golang.org/x/time/rate"
)
