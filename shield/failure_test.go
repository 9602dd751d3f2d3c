package shield

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
)

func TestJudge(t *testing.T) {
	tests := []struct {
		name   string
		status int
		cs     []string
		want   verdict
		reason string
	}{
		{name: "200", status: 200, want: answered},
		{name: "404", status: 404, want: answered},
		{name: "500 is an answer", status: 500, want: answered},
		{name: "508 loop is an answer", status: 508, cs: []string{"s; detail=loop"}, want: answered},
		{name: "502 without Cache-Status", status: 502, want: shieldFailed, reason: reasonStatus},
		{name: "503 from a load balancer", status: 503, want: shieldFailed, reason: reasonStatus},
		{name: "504 without fwd", status: 504, cs: []string{"shield-a; detail=internal-error"}, want: shieldFailed, reason: reasonStatus},
		{name: "502 after forwarding: origin failed", status: 502,
			cs: []string{"shield-a; fwd=uri-miss; detail=upstream-error"}, want: originFailed, reason: reasonUpstream},
		{name: "504 after forwarding: origin timed out", status: 504,
			cs: []string{"shield-a; fwd=stale; detail=upstream-timeout"}, want: originFailed, reason: reasonUpstream},
		{name: "503 relayed from the origin", status: 503,
			cs: []string{"shield-a; fwd=uri-miss; fwd-status=503"}, want: answered},
		{name: "503 served from the shield's cache", status: 503, cs: []string{"shield-a; hit; ttl=5"}, want: answered},
		{name: "only the last entry counts", status: 502,
			cs: []string{"origin-cache; hit", "shield-a; fwd=uri-miss; detail=upstream-error"}, want: originFailed, reason: reasonUpstream},
		{name: "last entry on one line", status: 502,
			cs: []string{"origin-cache; hit, shield-a; detail=x"}, want: shieldFailed, reason: reasonStatus},
		{name: "comma inside a quoted parameter", status: 502,
			cs: []string{`shield-a; detail="a, b"; fwd-status=502`}, want: answered},
		{name: "case-insensitive parameter names", status: 502, cs: []string{"shield-a; FWD=miss"}, want: originFailed, reason: reasonUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			if tt.cs != nil {
				resp.Header["Cache-Status"] = tt.cs
			}
			v, reason := judge(resp)
			if v != tt.want || reason != tt.reason {
				t.Errorf("judge = %v, %q; want %v, %q", v, reason, tt.want, tt.reason)
			}
			if got := OriginUnreachable(tt.status, resp.Header); got != (tt.want == originFailed) {
				t.Errorf("OriginUnreachable = %v, want %v", got, tt.want == originFailed)
			}
		})
	}
}

func TestMayRetry(t *testing.T) {
	body := io.NopCloser(http.NoBody)
	tests := []struct {
		name   string
		method string
		body   io.ReadCloser
		reason string
		want   bool
	}{
		{name: "GET after a reset", method: "GET", reason: reasonError, want: true},
		{name: "HEAD after a timeout", method: "HEAD", reason: reasonTimeout, want: true},
		{name: "GET after a 502", method: "GET", reason: reasonStatus, want: true},
		{name: "DELETE refused a connection", method: "DELETE", reason: reasonConnect, want: true},
		{name: "DELETE after a reset", method: "DELETE", reason: reasonError, want: false},
		{name: "POST with a body, refused", method: "POST", body: body, reason: reasonConnect, want: false},
		{name: "GET with a body", method: "GET", body: body, reason: reasonError, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://x/", nil)
			if tt.body != nil {
				req.Body = tt.body
			}
			if got := mayRetry(req, tt.reason); got != tt.want {
				t.Errorf("mayRetry = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "connect", err: &connectError{errors.New("refused")}, want: reasonConnect},
		{name: "deadline", err: context.DeadlineExceeded, want: reasonTimeout},
		{name: "other", err: io.ErrUnexpectedEOF, want: reasonError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reasonOf(tt.err); got != tt.want {
				t.Errorf("reasonOf = %q, want %q", got, tt.want)
			}
		})
	}
}
