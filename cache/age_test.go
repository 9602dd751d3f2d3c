package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestCorrectedInitialAge(t *testing.T) {
	tests := []struct {
		name string
		resp http.Header
		want time.Duration
	}{
		{"no Age, no Date: just the response delay", nil, time.Second},
		{"apparent_age = response_time - date_value", hdr("Date", httpDate(t1.Add(-30*time.Second))), 30 * time.Second},
		{"Date in the future gives apparent_age 0", hdr("Date", httpDate(t1.Add(time.Hour))), time.Second},
		{"corrected_age_value = age_value + response_delay", hdr("Date", httpDate(t1), "Age", "50"), 51 * time.Second},
		{"the larger of apparent and corrected age wins",
			hdr("Date", httpDate(t1.Add(-100*time.Second)), "Age", "50"), 100 * time.Second},
		{"invalid Age counts as 0", hdr("Age", "-3"), time.Second},
		{"a non-numeric Age counts as 0", hdr("Age", "abc"), time.Second},
		{"a decimal Age counts as 0", hdr("Age", "7200.0"), time.Second},
		{"an Age with a parameter counts as 0", hdr("Age", "7200;foo=bar"), time.Second},
		{"folded Age lines: the first member counts", hdr("Age", "7200, 0"), 7201 * time.Second},
		{"folded Age lines: a later larger member is ignored", hdr("Age", "0, 7200"), time.Second},
		{"folded Age lines with OWS", hdr("Age", " 50 ,\t0"), 51 * time.Second},
		{"an empty first member is skipped", hdr("Age", ", 50"), 51 * time.Second},
		{"an invalid first member is not replaced by a later one", hdr("Age", "x, 50"), time.Second},
		{"two Age lines: the first counts", hdr("Age", "7200", "Age", "0"), 7201 * time.Second},
		{"two Age lines: a later larger one is ignored", hdr("Age", "0", "Age", "7200"), time.Second},
		{"an empty Age counts as 0", hdr("Age", ""), time.Second},
		{"invalid Date counts as the response time", hdr("Date", "soon", "Age", "5"), 6 * time.Second},
		{"overflowing Age is 2^31 seconds (§1.2.2)", hdr("Age", "999999999999999999999"), MaxDelta * time.Second},
		{"an ancient Date is capped at 2^31 seconds", hdr("Date", "Mon, 01 Jan 0001 00:00:00 GMT"), MaxDelta * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := correctedInitialAge(tt.resp, t0, t1); got != tt.want {
				t.Errorf("correctedInitialAge = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("a response_time before request_time counts as no delay", func(t *testing.T) {
		if got := correctedInitialAge(hdr("Age", "5"), t1, t0); got != 5*time.Second {
			t.Errorf("correctedInitialAge = %v, want 5s", got)
		}
	})
}

// stored is a response received at t1, 10s old on arrival, fresh for 60s:
// it turns stale at t1+50s.
func stored(f func(m *Meta)) *Meta {
	m := &Meta{
		Status:              200,
		RequestTime:         t0,
		ResponseTime:        t1,
		CorrectedInitialAge: 10 * time.Second,
		Lifetime:            time.Minute,
	}
	if f != nil {
		f(m)
	}
	return m
}

func TestMetaFreshness(t *testing.T) {
	at := func(d time.Duration) time.Time { return t1.Add(d) }
	tests := []struct {
		name                string
		m                   *Meta
		now                 time.Time
		age, ttl            time.Duration
		fresh, swrOK, sieOK bool
	}{
		{name: "age is the initial age plus resident time", m: stored(nil), now: at(20 * time.Second),
			age: 30 * time.Second, ttl: 30 * time.Second, fresh: true},
		{name: "a clock stepping back counts as no resident time", m: stored(nil), now: at(-time.Hour),
			age: 10 * time.Second, ttl: 50 * time.Second, fresh: true},
		{name: "fresh until age reaches lifetime (§4.2)", m: stored(nil), now: at(50*time.Second - 1),
			age: 60*time.Second - 1, ttl: 1, fresh: true},
		{name: "stale once age equals lifetime", m: stored(nil), now: at(50 * time.Second),
			age: 60 * time.Second, ttl: 0},
		{name: "TTL goes negative when stale", m: stored(nil), now: at(70 * time.Second),
			age: 80 * time.Second, ttl: -20 * time.Second},
		{name: "no-cache is never fresh (§5.2.2.4)", m: stored(func(m *Meta) { m.NoCache = true }), now: at(0),
			age: 10 * time.Second, ttl: 50 * time.Second},
		{name: "stale within stale-while-revalidate (RFC 5861 §3)",
			m: stored(func(m *Meta) { m.StaleWhileRevalidate = 30 * time.Second }), now: at(60 * time.Second),
			age: 70 * time.Second, ttl: -10 * time.Second, swrOK: true},
		{name: "fresh is not a stale-while-revalidate case",
			m: stored(func(m *Meta) { m.StaleWhileRevalidate = 30 * time.Second }), now: at(0),
			age: 10 * time.Second, ttl: 50 * time.Second, fresh: true},
		{name: "past the stale-while-revalidate window",
			m: stored(func(m *Meta) { m.StaleWhileRevalidate = 30 * time.Second }), now: at(80 * time.Second),
			age: 90 * time.Second, ttl: -30 * time.Second},
		{name: "stale within stale-if-error (RFC 5861 §4)",
			m: stored(func(m *Meta) { m.StaleIfError = time.Hour }), now: at(time.Minute),
			age: 70 * time.Second, ttl: -10 * time.Second, sieOK: true},
		{name: "must-revalidate forbids both stale windows (§5.2.2.2)",
			m: stored(func(m *Meta) {
				m.MustRevalidate, m.StaleWhileRevalidate, m.StaleIfError = true, time.Hour, time.Hour
			}), now: at(time.Minute), age: 70 * time.Second, ttl: -10 * time.Second},
		{name: "no-cache forbids both stale windows",
			m:   stored(func(m *Meta) { m.NoCache, m.StaleWhileRevalidate, m.StaleIfError = true, time.Hour, time.Hour }),
			now: at(time.Minute), age: 70 * time.Second, ttl: -10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			if got := m.Age(tt.now); got != tt.age {
				t.Errorf("Age = %v, want %v", got, tt.age)
			}
			if got := m.TTL(tt.now); got != tt.ttl {
				t.Errorf("TTL = %v, want %v", got, tt.ttl)
			}
			if got := m.IsFresh(tt.now); got != tt.fresh {
				t.Errorf("IsFresh = %v, want %v", got, tt.fresh)
			}
			if got := m.StaleWhileRevalidateOK(tt.now); got != tt.swrOK {
				t.Errorf("StaleWhileRevalidateOK = %v, want %v", got, tt.swrOK)
			}
			if got := m.StaleIfErrorOK(tt.now); got != tt.sieOK {
				t.Errorf("StaleIfErrorOK = %v, want %v", got, tt.sieOK)
			}
			if !tt.now.Before(m.ResponseTime) {
				if got := m.Expires().Sub(tt.now); got != tt.ttl {
					t.Errorf("Expires - now = %v, want TTL %v", got, tt.ttl)
				}
			}
		})
	}
}

func TestMetaExpiresAndKeepUntil(t *testing.T) {
	staleAt := t1.Add(50 * time.Second) // see stored
	tests := []struct {
		name string
		m    *Meta
		want time.Time
	}{
		{"no validator, no stale window: kept until stale", stored(nil), staleAt},
		{"kept through the longer stale window",
			stored(func(m *Meta) { m.StaleWhileRevalidate, m.StaleIfError = time.Minute, time.Hour }), staleAt.Add(time.Hour)},
		{"stale windows do not count under must-revalidate",
			stored(func(m *Meta) { m.MustRevalidate, m.StaleIfError = true, time.Hour }), staleAt},
		{"a validator keeps a short-lived object an hour for revalidation",
			stored(func(m *Meta) { m.ETag = `"x"` }), staleAt.Add(time.Hour)},
		{"a validator keeps as long as the lifetime",
			stored(func(m *Meta) { m.LastModified = httpDate(t0); m.Lifetime = 5 * time.Hour }),
			t1.Add(5*time.Hour - 10*time.Second).Add(5 * time.Hour)},
		{"the validator keep is capped at a day",
			stored(func(m *Meta) { m.ETag = `"x"`; m.Lifetime = 30 * 24 * time.Hour }),
			t1.Add(30*24*time.Hour - 10*time.Second).Add(24 * time.Hour)},
		{"a stale-if-error window longer than the validator keep wins",
			stored(func(m *Meta) { m.ETag = `"x"`; m.StaleIfError = 48 * time.Hour }), staleAt.Add(48 * time.Hour)},
		{"a zero-lifetime object with a validator is kept for revalidation",
			stored(func(m *Meta) { m.Lifetime = 0; m.CorrectedInitialAge = 0; m.ETag = `"x"` }), t1.Add(time.Hour)},
		{"kept through the stale-if-unreachable window",
			stored(func(m *Meta) { m.StaleIfUnreachable = 10 * time.Second }), staleAt.Add(10 * time.Second)},
		{"no stale-if-unreachable keep for a response stale on arrival",
			stored(func(m *Meta) { m.Lifetime = 5 * time.Second; m.StaleIfUnreachable = 10 * time.Second }),
			t1.Add(5*time.Second - 10*time.Second)},
		{"nor for one with no freshness at all",
			stored(func(m *Meta) { m.Lifetime = 0; m.CorrectedInitialAge = 0; m.StaleIfUnreachable = 10 * time.Second }), t1},
		{"no stale-if-unreachable keep under must-revalidate",
			stored(func(m *Meta) { m.MustRevalidate, m.StaleIfUnreachable = true, time.Hour }), staleAt},
		{"a no-cache object with a validator is kept for revalidation",
			stored(func(m *Meta) { m.NoCache = true; m.StaleIfError = 48 * time.Hour; m.ETag = `"x"` }), staleAt.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.KeepUntil(); !got.Equal(tt.want) {
				t.Errorf("KeepUntil = %v, want %v", got, tt.want)
			}
			if got := tt.m.Expires(); got.After(tt.m.KeepUntil()) {
				t.Errorf("Expires %v after KeepUntil %v", got, tt.m.KeepUntil())
			}
		})
	}
}

func TestAgeHeader(t *testing.T) {
	tests := []struct {
		name string
		m    *Meta
		now  time.Time
		want string
	}{
		{"whole seconds, rounded down", stored(nil), t1.Add(1500 * time.Millisecond), "11"},
		{"zero", stored(func(m *Meta) { m.CorrectedInitialAge = 0 }), t1, "0"},
		{"large", stored(func(m *Meta) { m.CorrectedInitialAge = 86400 * time.Second }), t1, "86400"},
		{"capped at 2^31 (§5.1)", stored(func(m *Meta) { m.CorrectedInitialAge = MaxDelta * time.Second }),
			t1.Add(time.Hour), "2147483648"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.AgeHeader(tt.now); got != tt.want {
				t.Errorf("AgeHeader = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("small ages do not allocate", func(t *testing.T) {
		m := stored(nil)
		if n := testing.AllocsPerRun(100, func() { _ = m.AgeHeader(t1) }); n != 0 {
			t.Errorf("AgeHeader allocates %v times", n)
		}
	})
}

func TestSatisfies(t *testing.T) {
	// stored(nil) is 10s old at t1 and fresh for 60s.
	tests := []struct {
		name string
		m    *Meta
		req  string // request Cache-Control; "-" for a nil *Directives
		now  time.Duration
		want bool
	}{
		{"fresh response, no request directives", stored(nil), "-", 0, true},
		{"stale response, no request directives", stored(nil), "-", time.Minute, false},
		{"empty request directives behave like none", stored(nil), "", 0, true},
		{"max-age: age within the client's limit (§5.2.1.1)", stored(nil), "max-age=30", 20 * time.Second, true},
		{"max-age: older than the client accepts", stored(nil), "max-age=30", 21 * time.Second, false},
		{"max-age=0 refuses any cached age", stored(nil), "max-age=0", 0, false},
		{"min-fresh: fresh long enough (§5.2.1.3)", stored(nil), "min-fresh=20", 30 * time.Second, true},
		{"min-fresh: not fresh long enough", stored(nil), "min-fresh=20", 31 * time.Second, false},
		{"max-stale: stale within the limit (§5.2.1.2)", stored(nil), "max-stale=30", 80 * time.Second, true},
		{"max-stale: stale beyond the limit", stored(nil), "max-stale=30", 81 * time.Second, false},
		{"max-stale without value accepts any staleness", stored(nil), "max-stale", 1000 * time.Hour, true},
		{"max-stale does not override must-revalidate (§5.2.2.2)",
			stored(func(m *Meta) { m.MustRevalidate = true }), "max-stale", time.Minute, false},
		{"max-stale does not override no-cache",
			stored(func(m *Meta) { m.NoCache = true }), "max-stale", time.Minute, false},
		{"no-cache response is not served even when fresh",
			stored(func(m *Meta) { m.NoCache = true }), "-", 0, false},
		{"max-age and max-stale together: both must hold",
			stored(nil), "max-age=65, max-stale=30", 60 * time.Second, false},
		{"max-age and max-stale together: both hold",
			stored(nil), "max-age=75, max-stale=30", 60 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *Directives
			if tt.req != "-" {
				d := ParseDirectives([]string{tt.req})
				req = &d
			}
			if got := tt.m.Satisfies(req, t1.Add(tt.now)); got != tt.want {
				t.Errorf("Satisfies(%q) at age %v = %v, want %v", tt.req, tt.m.Age(t1.Add(tt.now)), got, tt.want)
			}
		})
	}
}
