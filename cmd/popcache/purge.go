package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/popcache/popcache/purge"
)

// purgeUsage documents the purge command.
const purgeUsage = `usage:
  popcache purge --admin URL [--token T] [--url U]... [--prefix P]... [--host H]... [--tag T]...
                 [--all] [--soft] [--no-wait] [--timeout D]
  popcache purge status --admin URL [--token T] ID

Purges through a node's admin API (POST /purge) and prints the purge's
status per node. The token may come from $POPCACHE_TOKEN instead of
--token, which keeps it out of the process list. Exit status: 0 when every
live node applied the purge, 3 when some had not yet, 1 on an error, 2 on
bad usage.
`

// purgeCmd runs "popcache purge".
func purgeCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "status" {
		return purgeStatusCmd(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, purgeUsage) }
	var urls, prefixes, hosts, tags listFlag
	admin := fs.String("admin", "http://127.0.0.1:9090", "admin API base `URL`")
	token := fs.String("token", "", "bearer `token` (default $POPCACHE_TOKEN)")
	fs.Var(&urls, "url", "purge this `URL` (repeatable)")
	fs.Var(&prefixes, "prefix", "purge URLs starting with host/path `prefix` (repeatable)")
	fs.Var(&hosts, "host", "purge every object of `host` (repeatable)")
	fs.Var(&tags, "tag", "purge objects tagged `tag` (Surrogate-Key, Cache-Tag; repeatable)")
	all := fs.Bool("all", false, "purge everything (admin scope)")
	soft := fs.Bool("soft", false, "mark stale (revalidate) instead of removing")
	noWait := fs.Bool("no-wait", false, "answer once the purge is stored on the bus, without waiting for the nodes")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "popcache purge: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	q := &purge.Request{URLs: urls, Prefixes: prefixes, Hosts: hosts, Tags: tags, All: *all, Soft: *soft}
	if err := q.Validate(); err != nil {
		fmt.Fprintf(stderr, "popcache purge: %v\n", err)
		return 2
	}
	body, _ := json.Marshal(q)
	target, err := adminURL(*admin, "/purge")
	if err != nil {
		fmt.Fprintf(stderr, "popcache purge: %v\n", err)
		return 2
	}
	if *noWait {
		target += "?wait=false"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "popcache purge: %v\n", err)
		return 2
	}
	req.Header.Set("Content-Type", "application/json")
	return doPurgeRequest(req, *token, stdout, stderr)
}

// purgeStatusCmd runs "popcache purge status ID".
func purgeStatusCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, purgeUsage) }
	admin := fs.String("admin", "http://127.0.0.1:9090", "admin API base `URL`")
	token := fs.String("token", "", "bearer `token` (default $POPCACHE_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "popcache purge status: want one purge ID\n")
		return 2
	}
	target, err := adminURL(*admin, "/purge/"+url.PathEscape(fs.Arg(0)))
	if err != nil {
		fmt.Fprintf(stderr, "popcache purge status: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "popcache purge status: %v\n", err)
		return 2
	}
	return doPurgeRequest(req, *token, stdout, stderr)
}

// adminURL joins the admin base URL and a path.
func adminURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--admin %q: want the admin listener's URL, like http://127.0.0.1:9090", base)
	}
	return strings.TrimSuffix(u.String(), "/") + path, nil
}

// doPurgeRequest sends req with the token, prints the answer and returns
// the exit status.
func doPurgeRequest(req *http.Request, token string, stdout, stderr io.Writer) int {
	if token == "" {
		token = os.Getenv("POPCACHE_TOKEN")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "popcache purge: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		fmt.Fprintf(stderr, "popcache purge: reading the answer: %v\n", err)
		return 1
	}
	switch resp.StatusCode {
	case http.StatusOK:
		stdout.Write(b)
		return 0
	case http.StatusAccepted:
		stdout.Write(b)
		fmt.Fprintln(stderr, "popcache purge: published; some live nodes have not applied it yet (see the nodes above)")
		return 3
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		fmt.Fprintf(stderr, "popcache purge: %s: %s\n", resp.Status, e.Error)
	} else {
		fmt.Fprintf(stderr, "popcache purge: %s\n", resp.Status)
	}
	return 1
}
