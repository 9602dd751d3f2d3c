package cache

import (
	"net/http"
	"time"
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) strictly: the
// IMF-fixdate form senders generate,
//
//	Sun, 06 Nov 1994 08:49:37 GMT
//
// and the two obsolete forms recipients must still accept,
//
//	Sunday, 06-Nov-94 08:49:37 GMT   (rfc850-date)
//	Sun Nov  6 08:49:37 1994         (asctime-date)
//
// with exactly the grammar's single spaces and fixed-width digits: a
// one-digit hour, doubled spaces, a two-digit year outside rfc850-date,
// a zone other than GMT or a trailing character make the date invalid,
// as an invalid Expires must read as stale (RFC 9111 §5.3). time.Parse
// and http.ParseTime accept several of those. The one leniency is
// letter case in day names, month names and "GMT", which changes no
// value. The day of the month must exist; a second of 60 (a leap
// second) is the next minute's first. The weekday is checked to be a
// day name, not to match the date, as no implementation does.
//
// An rfc850-date's two-digit year is the year with those last two digits
// within 50 years of now: one that appears more than 50 years in the
// future is taken as the most recent past year with the same digits, as
// §5.6.7 requires. The caller trims surrounding whitespace. The result
// is in UTC. It does not allocate.
func ParseHTTPDate(s string, now time.Time) (time.Time, bool) {
	switch {
	case len(s) == len(http.TimeFormat) && s[3] == ',':
		return parseIMFFixdate(s)
	case len(s) == len("Sun Nov  6 08:49:37 1994") && s[3] == ' ':
		return parseASCTime(s)
	}
	return parseRFC850(s, now)
}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT"; len(s) is 29.
func parseIMFFixdate(s string) (time.Time, bool) {
	if !isShortDayName(s[0:3]) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[25] != ' ' || !isGMT(s[26:29]) {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month, ok2 := monthNumber(s[8:11])
	year, ok3 := digits(s[12:16])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return dateTime(year, month, day, s[17:25])
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994"; len(s) is 24. The day
// is two digits or a space and one digit.
func parseASCTime(s string) (time.Time, bool) {
	if !isShortDayName(s[0:3]) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month, ok1 := monthNumber(s[4:7])
	dd := s[8:10]
	if dd[0] == ' ' {
		dd = dd[1:]
	}
	day, ok2 := digits(dd)
	year, ok3 := digits(s[20:24])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return dateTime(year, month, day, s[11:19])
}

// rfc850Tail is the part of an rfc850-date after the day name.
const rfc850Tail = ", 06-Nov-94 08:49:37 GMT"

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(s string, now time.Time) (time.Time, bool) {
	n := len(s) - len(rfc850Tail)
	if n < len("Monday") || !isLongDayName(s[:n]) {
		return time.Time{}, false
	}
	t := s[n:]
	if t[0] != ',' || t[1] != ' ' || t[4] != '-' || t[8] != '-' || t[11] != ' ' ||
		t[20] != ' ' || !isGMT(t[21:24]) {
		return time.Time{}, false
	}
	day, ok1 := digits(t[2:4])
	month, ok2 := monthNumber(t[5:8])
	yy, ok3 := digits(t[9:11])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return dateTime(twoDigitYear(yy, now.UTC().Year()), month, day, t[12:20])
}

// twoDigitYear is the year ending in yy closest to nowYear, ties going to
// the past: it lies in [nowYear-49, nowYear+50].
func twoDigitYear(yy, nowYear int) int {
	y := nowYear - nowYear%100 + yy
	switch {
	case y > nowYear+50:
		y -= 100
	case y <= nowYear-50:
		y += 100
	}
	return y
}

// dateTime validates the date and the time-of-day "08:49:37" and
// assembles them in UTC.
func dateTime(year int, month time.Month, day int, hms string) (time.Time, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(hms[0:2])
	minute, ok2 := digits(hms[3:5])
	sec, ok3 := digits(hms[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 ||
		day < 1 || day > daysIn(month, year) {
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, minute, sec, 0, time.UTC), true
}

// daysIn is the number of days in month of year (proleptic Gregorian).
func daysIn(month time.Month, year int) int {
	switch month {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// digits parses a run of ASCII digits (all of s, at least one).
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// lower3 packs three ASCII letters, lowercased, into one comparable
// value; any non-letter yields 0, which matches no name.
func lower3(s string) uint32 {
	var v uint32
	for i := 0; i < 3; i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return 0
		}
		v = v<<8 | uint32(c)
	}
	return v
}

func pack3(s string) uint32 { return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) }

func isGMT(s string) bool { return lower3(s) == pack3("gmt") }

// monthNumber reads a three-letter month name, any letter case.
func monthNumber(s string) (time.Month, bool) {
	v := lower3(s)
	for i, name := range [...]string{"jan", "feb", "mar", "apr", "may", "jun",
		"jul", "aug", "sep", "oct", "nov", "dec"} {
		if v == pack3(name) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// dayNames are the long day names, lowercase; their first three letters
// are the short names.
func dayNames() [7]string {
	return [...]string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
}

func isShortDayName(s string) bool {
	v := lower3(s)
	for _, name := range dayNames() {
		if v == pack3(name) {
			return true
		}
	}
	return false
}

func isLongDayName(s string) bool {
	for _, name := range dayNames() {
		if equalFoldASCII(s, name) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether s equals the lowercase ASCII word lower
// ignoring the case of s's letters.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
