package routing

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// errReader fails after its data.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func TestGuardRequestBody(t *testing.T) {
	broken := errors.New("bad chunk")
	tests := []struct {
		name    string
		body    io.ReadCloser
		bodyErr bool
	}{
		{"whole body", io.NopCloser(strings.NewReader("abc")), false},
		{"read error", io.NopCloser(&errReader{strings.NewReader("ab"), broken}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := io.ReadAll(GuardRequestBody(tt.body))
			if got := IsRequestBodyError(err); got != tt.bodyErr {
				t.Fatalf("IsRequestBodyError(%v) = %v, want %v", err, got, tt.bodyErr)
			}
			if tt.bodyErr && !errors.Is(err, broken) {
				t.Errorf("%v does not wrap the read error", err)
			}
		})
	}
	if GuardRequestBody(http.NoBody) != http.NoBody || GuardRequestBody(nil) != nil {
		t.Error("an absent body must stay as it is")
	}
}
