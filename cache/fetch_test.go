package cache

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestFetchLifetime: Store.Fetch serves one caller alone. Its fetch ends
// when the caller's request ends before the head arrives (nobody else
// waits on it), and a Private body's fetch lives until the body is closed
// or the caller's request ends, not only until Fetch returns.
func TestFetchLifetime(t *testing.T) {
	s, _ := testStore(t, diskConfig(t.TempDir()))

	t.Run("caller leaves before the head", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		go func() { <-started; cancel() }()
		_, err := s.Fetch(ctx, "k1", func(fctx context.Context) (*Fill, error) {
			close(started)
			select {
			case <-fctx.Done():
				return nil, fctx.Err()
			case <-time.After(5 * time.Second):
				return nil, errors.New("the fetch outlived its only caller")
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch: %v, want the fetch cancelled", err)
		}
	})

	private := func(ctx context.Context) (*Fill, context.Context) {
		var fetchCtx context.Context
		f, err := s.Fetch(ctx, "k2", func(fctx context.Context) (*Fill, error) {
			fetchCtx = fctx
			return &Fill{Private: &PrivateResponse{Status: 200, Body: io.NopCloser(strings.NewReader("x"))}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return f, fetchCtx
	}
	t.Run("private body until closed", func(t *testing.T) {
		f, fctx := private(context.Background())
		if fctx.Err() != nil {
			t.Fatal("the fetch ended when Fetch returned, before the body was read")
		}
		f.Private.Body.Close()
		if fctx.Err() == nil {
			t.Error("closing the body did not end the fetch")
		}
	})
	t.Run("private body until the caller leaves", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f, fctx := private(ctx)
		defer f.Private.Body.Close()
		cancel()
		select {
		case <-fctx.Done():
		case <-time.After(5 * time.Second):
			t.Error("the caller's request ended but the fetch did not")
		}
	})
}
