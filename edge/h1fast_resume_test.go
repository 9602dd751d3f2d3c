package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCleanEnd(t *testing.T) {
	get := func(mut func(r *http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if mut != nil {
			mut(r)
		}
		return r
	}
	tests := []struct {
		name  string
		r     *http.Request
		write func(w http.ResponseWriter)
		want  bool
	}{
		{"complete body", get(nil), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "3")
			w.Write([]byte("abc"))
		}, true},
		{"body cut short", get(nil), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "4")
			w.Write([]byte("abc"))
		}, false},
		{"no Content-Length: chunked", get(nil), func(w http.ResponseWriter) { w.Write([]byte("abc")) }, false},
		{"304 without a body", get(nil), func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotModified) }, true},
		{"HEAD", get(func(r *http.Request) { r.Method = http.MethodHead }), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusOK)
		}, true},
		{"nothing written", get(nil), func(http.ResponseWriter) {}, false},
		{"response closes", get(nil), func(w http.ResponseWriter) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
		}, false},
		{"client asked to close", get(func(r *http.Request) { r.Close = true }), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
		}, false},
		{"HTTP/1.0", get(func(r *http.Request) { r.ProtoMinor = 0 }), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
		}, false},
		{"POST", get(func(r *http.Request) { r.Method = http.MethodPost }), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
		}, false},
		{"request body", get(func(r *http.Request) { r.ContentLength = 5 }), func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := &countingWriter{ResponseWriter: httptest.NewRecorder()}
			tt.write(cw)
			if got := cw.cleanEnd(tt.r); got != tt.want {
				t.Errorf("cleanEnd = %v, want %v", got, tt.want)
			}
		})
	}
}
