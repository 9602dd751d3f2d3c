package conf

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that a refusal is always a
// non-empty Errors with lines inside the input, and that an accepted
// config re-validates cleanly after defaults are applied again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(DefaultTOML()))
	f.Add([]byte(minimal))
	f.Add([]byte("[server\nlisten = [\"a\"]\n"))
	f.Add([]byte("role = \"hub\"\n[[origins]]\nname = \"o\"\nservers = [{url = \"ftp://a\", weight = 0}]\n"))
	f.Add([]byte("[cache]\nmemory_max_bytes = \"1.5GiB\"\nfill_timeout = 30\n" + minimal))
	f.Add([]byte(minimal + "[routes.cache]\nkey = {query = \"none\", query_include = [\"a\"]}\nhosts = [\"*.*\"]\n"))
	f.Add([]byte("a = \"\"\"\n[x]\n\"\"\"\n[[b]]\n[b.c]\nd = {e = [1,\n2]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := string(data)
		indexLines(src) // must terminate without panicking on any input
		c, err := Parse("fuzz", data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned along with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty conf.Errors: %#v", err)
			}
			maxLine := strings.Count(src, "\n") + 1
			for _, e := range errs {
				if e.Source != "fuzz" || e.Line < 0 || e.Line > maxLine || e.Msg == "" {
					t.Fatalf("malformed error %+v (input has %d lines)", *e, maxLine)
				}
			}
			return
		}
		c.EnsureDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not re-validate: %v\ninput:\n%s", err, src)
		}
		var b strings.Builder
		if err := c.Describe(&b); err != nil {
			t.Fatalf("Describe: %v", err)
		}
	})
}
