package conf

import (
	"errors"
	"regexp"
	"strings"
)

// QuickStart returns the validated config behind
// `popcache serve --listen ADDR --origin URL [--admin ADDR]`: every
// default, one origin named "origin" with the single server origin, and
// one catch-all route "default" to it. An empty listen means the default
// listener and an empty admin the default admin address.
//
// Errors are [Errors] with source "<flags>" and the flag as the key
// ("--origin: invalid URL ...").
func QuickStart(listen []string, origin, admin string) (*Config, error) {
	const source = "<flags>"
	if origin == "" {
		return nil, Errors{{Source: source, Key: "--origin", Msg: "is required: the origin's URL, like http://127.0.0.1:8000"}}
	}
	c := &Config{
		Source: source,
		Admin:  Admin{Listen: admin},
		Origins: []Origin{{
			Name:    "origin",
			Servers: []Upstream{{URL: origin}},
		}},
		Routes: []Route{{Name: "default", Origin: "origin"}},
	}
	if len(listen) > 0 {
		c.Server.Listen = append([]string(nil), listen...)
	}
	c.EnsureDefaults()
	err := c.Validate()
	var errs Errors
	if errors.As(err, &errs) {
		listenRef := regexp.MustCompile(`server\.listen\[\d+\]`)
		for _, e := range errs {
			e.Key = flagFor(e.Key)
			e.Msg = listenRef.ReplaceAllString(e.Msg, "--listen")
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// flagFor names the command-line flag that set the value at key path k, or
// returns k if no flag sets it.
func flagFor(k string) string {
	switch {
	case strings.HasPrefix(k, "server.listen"):
		return "--listen"
	case k == "admin.listen":
		return "--admin"
	case strings.HasPrefix(k, "origins[0].servers[0].url"):
		return "--origin"
	}
	return k
}
