package main

import "runtime/debug"

// buildRevision returns " (<commit>)" for a binary built from a git
// checkout, "+dirty" marking uncommitted changes, or "" when the build
// recorded none.
func buildRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return " (" + rev[:min(len(rev), 12)] + dirty + ")"
}
