package conf

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the TOML file at path and returns the validated config, as
// [Parse] does with the file's path as the source.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: load: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes TOML data strictly, applies defaults and validates it. It
// returns a config only if all of that succeeds; otherwise the error is
// [Errors], every problem found with its source:line and key path. source
// names where data came from, for those messages.
//
// Strict means: an unknown key (a typo, or a known key in another case),
// a value of the wrong type, a size or duration that does not parse, and a
// number set to 0 where 0 would silently become a non-zero default are all
// errors. A syntax error stops decoding and is reported alone.
func Parse(source string, data []byte) (*Config, error) {
	src := string(data)
	lines, tooDeep := indexLines(src)
	if tooDeep != 0 {
		return nil, Errors{{Source: source, Line: tooDeep, Msg: fmt.Sprintf("nested more than %d levels deep", maxDepth)}}
	}
	var tree map[string]any
	if _, err := toml.Decode(src, &tree); err != nil {
		return nil, Errors{syntaxError(source, src, err)}
	}
	if errs := checkSchema(source, tree, lines); len(errs) > 0 {
		errs.sortByLine()
		return nil, errs
	}

	c := &Config{}
	md, err := toml.Decode(src, c)
	if err != nil {
		// checkSchema refuses what the typed decode would; keep this path
		// anyway rather than trust the two to stay in step.
		return nil, Errors{syntaxError(source, src, err)}
	}
	var errs Errors
	for _, k := range md.Undecoded() {
		errs = append(errs, &Error{Source: source, Line: lines.line(k.String()), Key: k.String(), Msg: "unknown key"})
	}
	if len(errs) > 0 {
		errs.sortByLine()
		return nil, errs
	}
	c.Source = source
	c.EnsureDefaults()
	if err := c.validate(lines); err != nil {
		errs := err.(Errors)
		errs.sortByLine()
		return nil, errs
	}
	return c, nil
}

// syntaxError turns a BurntSushi/toml error on src into an Error.
func syntaxError(source, src string, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{Source: source, Msg: err.Error()}
	}
	line := pe.Position.Line
	// The parser counts an offending newline as the start of the next line
	// ("[server" + "\n" is reported on the line after); the byte offset
	// tells the line a reader would look at.
	if start := pe.Position.Start; start > 0 && start <= len(src) {
		line = 1 + strings.Count(src[:start], "\n")
	}
	return &Error{Source: source, Line: line, Key: pe.LastKey, Msg: pe.Message}
}

//go:embed default.toml
var defaultTOML string

// DefaultTOML returns the text of the embedded default config: the demo
// PoP, with every section and default shown, to copy and edit.
func DefaultTOML() string { return defaultTOML }

// Default returns the embedded default config (source "<embedded>"): an
// edge on 127.0.0.1:8080 in front of the built-in demo origin on
// 127.0.0.1:8081, admin on 127.0.0.1:9090, one catch-all route "demo" that
// serves stale for 30s while revalidating and for 5m when the origin fails.
func Default() (*Config, error) {
	return Parse("<embedded>", []byte(defaultTOML))
}
