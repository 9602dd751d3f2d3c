package conf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// errorCase is a config that must fail with exactly the errors marked in
// it. A comment "# @k1 k2" at the end of a line expects an error for key
// k1 and one for key k2 on that line; noLine lists keys expected with no
// line (absent from the file); msg, if set, must appear in one message.
type errorCase struct {
	name   string
	toml   string
	noLine []string
	msg    string
}

// wantedErrors returns the "key@line" strings a case expects, sorted.
func (ec errorCase) wantedErrors() []string {
	var want []string
	for i, line := range strings.Split(ec.toml, "\n") {
		_, marks, ok := strings.Cut(line, "# @")
		if !ok {
			continue
		}
		for _, k := range strings.Fields(marks) {
			want = append(want, fmt.Sprintf("%s@%d", strings.TrimPrefix(k, "@"), i+1))
		}
	}
	for _, k := range ec.noLine {
		want = append(want, k+"@0")
	}
	slices.Sort(want)
	return want
}

// run parses the case and checks its errors.
func (ec errorCase) run(t *testing.T) {
	t.Helper()
	c, err := Parse("test.toml", []byte(ec.toml))
	if err == nil {
		t.Fatalf("Parse succeeded, want errors %v", ec.wantedErrors())
	}
	if c != nil {
		t.Errorf("Parse returned a config along with an error")
	}
	checkErrors(t, err, "test.toml", ec.wantedErrors(), ec.msg)
}

// checkErrors checks that err is Errors from source with exactly the
// "key@line" entries in want (sorted), one of them mentioning msg.
func checkErrors(t *testing.T, err error, source string, want []string, msg string) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not conf.Errors: %v", err, err)
	}
	var got []string
	found := msg == ""
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%s@%d", e.Key, e.Line))
		if e.Source != source {
			t.Errorf("error %q has source %q, want %q", e, e.Source, source)
		}
		if msg != "" && strings.Contains(e.Msg, msg) {
			found = true
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("errors at %v, want %v; errors:\n%v", got, want, err)
	}
	if !found {
		t.Errorf("no error message contains %q; errors:\n%v", msg, err)
	}
}

// minimal is the smallest valid config: one origin, one route.
const minimal = `
[[origins]]
name = "o"
servers = [{url = "http://127.0.0.1:8000"}]

[[routes]]
origin = "o"
`

// mustParse parses a config that must be valid.
func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}
