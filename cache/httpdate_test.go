package cache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// dateNow is the reference time for rfc850-date years in these tests.
var dateNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// rfc850GMT is the rfc850-date layout for UTC times. time.RFC850 writes
// the zone's name, "UTC", which is not an HTTP-date.
const rfc850GMT = "Monday, 02-Jan-06 15:04:05 GMT"

func TestParseHTTPDate(t *testing.T) {
	rfcExample := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Time // zero: invalid (year 1 is tested apart)
	}{
		// The three forms of RFC 9110 §5.6.7's own example.
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", rfcExample},
		{"rfc850-date", "Sunday, 06-Nov-94 08:49:37 GMT", rfcExample},
		{"asctime-date, one-digit day", "Sun Nov  6 08:49:37 1994", rfcExample},
		{"asctime-date, two-digit day", "Sun Nov 16 08:49:37 1994", rfcExample.AddDate(0, 0, 10)},
		{"asctime-date, zero-padded day", "Sun Nov 06 08:49:37 1994", rfcExample},

		// The cache-tests expires-parse cases.
		{"32-bit overflow year", "Tue, 19 Jan 2038 14:14:08 GMT", time.Date(2038, 1, 19, 14, 14, 8, 0, time.UTC)},
		{"far future", "Sun, 21 Nov 2286 04:46:39 GMT", time.Date(2286, 11, 21, 4, 46, 39, 0, time.UTC)},
		{"rfc850 in the near future", "Thursday, 18-Aug-50 02:01:18 GMT", time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)},
		{"asctime in the future", "Thu Aug  8 02:01:18 2050", time.Date(2050, 8, 8, 2, 1, 18, 0, time.UTC)},
		{"upper-case weekday", "THU, 18 Aug 2050 02:01:18 GMT", time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)},
		{"upper-case month", "Thu, 18 AUG 2050 02:01:18 GMT", time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)},
		{"mixed-case zone", "Thu, 18 Aug 2050 02:01:18 gMT", time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)},
		{"UTC is not GMT", "Thu, 18 Aug 2050 02:01:18 UTC", time.Time{}},
		{"AEST is not GMT", "Thu, 18 Aug 2050 02:01:18 AEST", time.Time{}},
		{"two-digit year in an IMF-fixdate", "Thu, 18 Aug 50 02:01:18 GMT", time.Time{}},
		{"no comma", "Thu 18 Aug 2050 02:01:18 GMT", time.Time{}},
		{"two spaces between fields", "Thu, 18  Aug  2050 02:01:18 GMT", time.Time{}},
		{"dashes in an IMF-fixdate", "Thu, 18-Aug-2050 02:01:18 GMT", time.Time{}},
		{"periods in the time", "Thu, 18 Aug 2050 02.01.18 GMT", time.Time{}},
		{"one-digit hour", "Thu, 18 Aug 2050 2:01:18 GMT", time.Time{}},

		// Field ranges and layout.
		{"29 February in a leap year", "Mon, 29 Feb 2016 00:00:00 GMT", time.Date(2016, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"29 February in a common year", "Tue, 29 Feb 2022 00:00:00 GMT", time.Time{}},
		{"29 February 1900 (not a leap year)", "Thu, 29 Feb 1900 00:00:00 GMT", time.Time{}},
		{"29 February 2000 (a leap year)", "Tue, 29 Feb 2000 00:00:00 GMT", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"31 April", "Thu, 31 Apr 2025 00:00:00 GMT", time.Time{}},
		{"day 00", "Thu, 00 Apr 2025 00:00:00 GMT", time.Time{}},
		{"hour 24", "Thu, 03 Apr 2025 24:00:00 GMT", time.Time{}},
		{"minute 60", "Thu, 03 Apr 2025 23:60:00 GMT", time.Time{}},
		{"a leap second is the next minute's first", "Wed, 31 Dec 2016 23:59:60 GMT", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"second 61", "Thu, 03 Apr 2025 23:59:61 GMT", time.Time{}},
		{"year 0002", "Wed, 01 Jan 0002 00:00:00 GMT", time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"rfc850 with a UTC zone", "Sunday, 06-Nov-94 08:49:37 UTC", time.Time{}},
		{"the weekday is not checked against the date", "Mon, 06 Nov 1994 08:49:37 GMT", rfcExample},
		{"unknown weekday", "Sux, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"unknown month", "Sun, 06 Nox 1994 08:49:37 GMT", time.Time{}},
		{"a long day name in an IMF-fixdate", "Sunday, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"a short day name in an rfc850-date", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"rfc850 with a four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT", time.Time{}},
		{"rfc850 with a wrong long day name", "Sundays, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"rfc850 upper case", "WEDNESDAY, 09-NOV-94 08:49:37 gmt", time.Date(1994, 11, 9, 8, 49, 37, 0, time.UTC)},
		{"asctime with a one-digit day and one space", "Sun Nov 6 08:49:37 1994", time.Time{}},
		{"asctime with a zone", "Sun Nov  6 08:49:37 GMT 1994", time.Time{}},
		{"trailing garbage", "Sun, 06 Nov 1994 08:49:37 GMTX", time.Time{}},
		{"surrounding whitespace is the caller's to trim", " Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"fractional seconds", "Sun, 06 Nov 1994 08:49:37.5 GMT", time.Time{}},
		{"sign in a number", "Sun, +6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"non-ASCII letters", "Sun, 06 N\xefv 1994 08:49:37 GMT", time.Time{}},
		{"a number", "0", time.Time{}},
		{"empty", "", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseHTTPDate(tt.in, dateNow)
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v (zero: invalid)", tt.in, got, ok, tt.want)
			}
			if ok && got.Location() != time.UTC {
				t.Errorf("location %v, want UTC", got.Location())
			}
		})
	}
}

func TestParseHTTPDateYearOne(t *testing.T) {
	got, ok := ParseHTTPDate("Mon, 01 Jan 0001 00:00:00 GMT", dateNow)
	if !ok || !got.Equal(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseHTTPDate = %v, %v; want year 1", got, ok)
	}
}

func TestParseHTTPDateTwoDigitYear(t *testing.T) {
	tests := []struct {
		name string
		now  int // the current year
		yy   string
		want int
	}{
		{"this century", 2026, "50", 2050},
		{"exactly 50 years ahead is not more than 50", 2026, "76", 2076},
		{"more than 50 years ahead is the past century (§5.6.7)", 2026, "77", 1977},
		{"last century", 2026, "94", 1994},
		{"this year", 2026, "26", 2026},
		{"near a century's end the next century is near", 2090, "10", 2110},
		{"near a century's end, 49 years back", 2090, "41", 2041},
		{"near a century's start the last century is near", 2005, "99", 1999},
		{"year 00", 2026, "00", 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(tt.now, 6, 1, 0, 0, 0, 0, time.UTC)
			got, ok := ParseHTTPDate("Friday, 01-Jan-"+tt.yy+" 00:00:00 GMT", now)
			if !ok || got.Year() != tt.want {
				t.Errorf("year %v (ok %v), want %d", got.Year(), ok, tt.want)
			}
		})
	}
}

func TestParseHTTPDateAllocs(t *testing.T) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "Thu, 18 Aug 2050 2:01:18 GMT"} {
		if n := testing.AllocsPerRun(100, func() { ParseHTTPDate(s, dateNow) }); n != 0 {
			t.Errorf("ParseHTTPDate(%q) allocates %v times", s, n)
		}
	}
}

// TestHTTPDateFieldsAreStrict checks that every date field the cache reads
// goes through the strict parser: each value below is accepted by
// http.ParseTime but is not an HTTP-date.
func TestHTTPDateFieldsAreStrict(t *testing.T) {
	const oneDigitHour = "Sun, 02 Mar 2025 2:00:01 GMT" // t1 + 1h, as http.ParseTime reads it
	if _, err := http.ParseTime(oneDigitHour); err != nil {
		t.Fatalf("http.ParseTime rejects %q, the test proves nothing: %v", oneDigitHour, err)
	}
	t.Run("Expires", func(t *testing.T) {
		m, v := Evaluate(http.MethodGet, nil, 200, hdr("Date", httpDate(t1), "Expires", oneDigitHour), t0, t1, defaultPolicy())
		if !v.Storable || m.Lifetime != 0 {
			t.Errorf("Lifetime %v (%+v), want 0: an invalid Expires is stale", m.Lifetime, v)
		}
	})
	t.Run("Date", func(t *testing.T) {
		// An invalid Date counts as the response time: Expires − t1 = 1h.
		resp := hdr("Date", "Sat, 01 Mar 2025 2:00:01 GMT", "Expires", httpDate(t1.Add(time.Hour)))
		if m, _ := Evaluate(http.MethodGet, nil, 200, resp, t0, t1, defaultPolicy()); m.Lifetime != time.Hour {
			t.Errorf("Lifetime %v, want 1h", m.Lifetime)
		}
	})
	t.Run("Last-Modified", func(t *testing.T) {
		resp := hdr("Date", httpDate(t1), "Last-Modified", "Sat, 01 Mar 2025 2:00:01 GMT")
		if m, _ := Evaluate(http.MethodGet, nil, 200, resp, t0, t1, defaultPolicy()); m.Lifetime != 0 || m.Heuristic {
			t.Errorf("Lifetime %v heuristic %v, want no heuristic from an invalid Last-Modified", m.Lifetime, m.Heuristic)
		}
	})
	t.Run("If-Modified-Since", func(t *testing.T) {
		m := &Meta{Status: 200, ResponseTime: t1, LastModified: httpDate(t0.Add(-time.Hour)), Header: hdr("Date", httpDate(t1))}
		if NotModified(hdr("If-Modified-Since", oneDigitHour), m, t1.Add(2*time.Hour)) {
			t.Error("304 for an invalid If-Modified-Since")
		}
		if !NotModified(hdr("If-Modified-Since", httpDate(t1.Add(time.Hour))), m, t1.Add(2*time.Hour)) {
			t.Error("no 304 for the valid form of the same date")
		}
	})
}

// FuzzParseHTTPDate compares ParseHTTPDate with time.Parse: every
// IMF-fixdate time.Format writes parses back to the same instant, and
// every string ParseHTTPDate accepts, time.Parse (more lenient) reads as
// the same instant in the matching layout.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "Thu, 18 Aug 2050 2:01:18 GMT", "Wed, 31 Dec 2016 23:59:60 GMT", "x"} {
		f.Add(s, int64(784111777))
	}
	f.Add("", int64(-62135596800)) // 0001-01-01
	f.Add("", int64(253402300799)) // 9999-12-31 23:59:59
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		// Any instant with a four-digit year round-trips through Format.
		const first, last = -62135596800, 253402300799
		span := int64(last - first + 1)
		tm := time.Unix(first+((unix%span)+span)%span, 0).UTC()
		formatted := tm.Format(http.TimeFormat)
		if got, ok := ParseHTTPDate(formatted, dateNow); !ok || !got.Equal(tm) {
			t.Fatalf("ParseHTTPDate(%q) = %v, %v; want %v", formatted, got, ok, tm)
		}

		// Whatever time.Parse formats back identically is an IMF-fixdate.
		if want, err := time.Parse(http.TimeFormat, s); err == nil && want.Format(http.TimeFormat) == s {
			if got, ok := ParseHTTPDate(s, dateNow); !ok || !got.Equal(want) {
				t.Fatalf("ParseHTTPDate(%q) = %v, %v; time.Parse says %v", s, got, ok, want)
			}
		}

		got, ok := ParseHTTPDate(s, dateNow)
		if !ok {
			return
		}
		if strings.Contains(s, ":60") {
			return // a leap second, which time.Parse rejects
		}
		layout, norm := http.TimeFormat, s
		switch {
		case len(s) == len(http.TimeFormat) && s[3] == ',':
			norm = s[:len(s)-3] + "GMT" // time.Parse matches the literal GMT case-sensitively
		case len(s) == len(time.ANSIC):
			layout = time.ANSIC
		default:
			layout = time.RFC850
		}
		want, err := time.Parse(layout, norm)
		if err != nil {
			t.Fatalf("ParseHTTPDate accepts %q, time.Parse(%q) does not: %v", s, layout, err)
		}
		if layout == time.RFC850 { // time.Parse places two-digit years in 1969-2068
			if (got.Year()-want.Year())%100 != 0 {
				t.Fatalf("ParseHTTPDate(%q) year %d, time.Parse %d", s, got.Year(), want.Year())
			}
			want = want.AddDate(got.Year()-want.Year(), 0, 0)
		}
		if !got.Equal(want) {
			t.Fatalf("ParseHTTPDate(%q) = %v, time.Parse = %v", s, got, want)
		}
	})
}

func BenchmarkParseHTTPDate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT", dateNow)
	}
}
