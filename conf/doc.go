// Package conf holds popcache's TOML schema, its defaults and its validation:
// a file is decoded once, strictly, into typed values that the rest of the
// node reads without parsing anything again.
package conf
