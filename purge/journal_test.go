package purge

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/popcache/popcache/cache"
	"github.com/popcache/popcache/conf"
)

func TestJournalReplay(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r1 := []cache.PurgeRule{{Kind: cache.PurgeTag, Value: "a", Mode: cache.PurgeHard, At: at}}
	r2 := []cache.PurgeRule{{Kind: cache.PurgeURL, Value: "x.com/b", Mode: cache.PurgeSoft, At: at.Add(time.Second)}}
	tests := []struct {
		name  string
		write func(t *testing.T, j *journal)
		tear  int // bytes cut from the end after writing
		want  journalState
	}{
		{"empty", func(*testing.T, *journal) {}, 0, journalState{Fresh: true}},
		{"two applies", func(t *testing.T, j *journal) {
			mustAppend(t, j, &record{T: "apply", Stream: "S@1", Seq: 4, ID: "id4", At: at, Rules: toJournal(r1)})
			mustAppend(t, j, &record{T: "apply", Stream: "S@1", Seq: 5, ID: "id5", At: at, Rules: toJournal(r2)})
		}, 0, journalState{Stream: "S@1", Seq: 5, Rules: append(append([]cache.PurgeRule{}, r1...), r2...),
			IDs: map[string]time.Time{"id4": at, "id5": at}}},
		{"a torn last record is dropped", func(t *testing.T, j *journal) {
			mustAppend(t, j, &record{T: "apply", Stream: "S@1", Seq: 4, ID: "id4", At: at, Rules: toJournal(r1)})
			mustAppend(t, j, &record{T: "apply", Stream: "S@1", Seq: 5, ID: "id5", At: at, Rules: toJournal(r2)})
		}, 3, journalState{Stream: "S@1", Seq: 4, Rules: r1, IDs: map[string]time.Time{"id4": at}}},
		{"a snapshot replaces what came before", func(t *testing.T, j *journal) {
			mustAppend(t, j, &record{T: "apply", Stream: "S@1", Seq: 4, ID: "id4", At: at, Rules: toJournal(r1)})
			if err := j.compact(&record{T: "snapshot", Stream: "S@1", Seq: 4, Rules: toJournal(r2), IDs: map[string]time.Time{"id4": at}}); err != nil {
				t.Fatal(err)
			}
			mustAppend(t, j, &record{T: "apply", Stream: "S@1", Seq: 6, ID: "id6", At: at, Rules: toJournal(r1)})
		}, 0, journalState{Stream: "S@1", Seq: 6, Rules: append(append([]cache.PurgeRule{}, r2...), r1...),
			IDs: map[string]time.Time{"id4": at, "id6": at}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j, st, err := openJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Fresh {
				t.Errorf("a new journal is not Fresh")
			}
			tt.write(t, j)
			j.close()
			if tt.tear > 0 {
				path := filepath.Join(dir, journalFile)
				fi, _ := os.Stat(path)
				os.Truncate(path, fi.Size()-int64(tt.tear))
			}
			j2, got, err := openJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer j2.close()
			if got.IDs == nil {
				got.IDs = map[string]time.Time{}
			}
			if tt.want.IDs == nil {
				tt.want.IDs = map[string]time.Time{}
			}
			if !reflect.DeepEqual(normal(got), normal(tt.want)) {
				t.Errorf("replayed\n%+v\nwant\n%+v", got, tt.want)
			}
			// Appending after a torn record leaves a journal that replays.
			mustAppend(t, j2, &record{T: "apply", Stream: "S@1", Seq: 99, At: at})
			j2.close()
			j3, again, err := openJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			j3.close()
			if again.Seq != 99 {
				t.Errorf("after appending: seq %d, want 99", again.Seq)
			}
		})
	}
}

// normal compares times by instant.
func normal(st journalState) journalState {
	st.Fresh = false
	for i := range st.Rules {
		st.Rules[i].At = st.Rules[i].At.UTC()
	}
	for k, v := range st.IDs {
		st.IDs[k] = v.UTC()
	}
	return st
}

func mustAppend(t *testing.T, j *journal, rec *record) {
	t.Helper()
	if err := j.append(rec); err != nil {
		t.Fatal(err)
	}
}

func TestJournalLock(t *testing.T) {
	dir := t.TempDir()
	j, _, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if _, _, err := openJournal(dir); err == nil || !strings.Contains(err.Error(), "another node") {
		t.Errorf("a second open of the same directory: %v, want a lock error", err)
	}
}

func TestTokens(t *testing.T) {
	toks := newTokens([]conf.AdminToken{
		{Name: "ops", Token: "purge-token-0123456789", Scopes: []string{"purge"}},
		{Name: "root", Token: "admin-token-0123456789", Scopes: []string{"admin"}},
	})
	tests := []struct {
		name   string
		header string
		ok     bool
		who    string
		admin  bool
	}{
		{"no header", "", false, "", false},
		{"not bearer", "Basic cHVyZ2UtdG9rZW4tMDEyMzQ1Njc4OQ==", false, "", false},
		{"unknown token", "Bearer purge-token-012345678X", false, "", false},
		{"prefix of a token", "Bearer purge-token", false, "", false},
		{"purge", "Bearer purge-token-0123456789", true, "ops", false},
		{"scheme is case-insensitive", "bearer purge-token-0123456789", true, "ops", false},
		{"admin", "Bearer admin-token-0123456789", true, "root", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			who, sc, ok := toks.check(h)
			if ok != tt.ok || who != tt.who || (ok && sc.allows(scopeAdmin) != tt.admin) || (ok && !sc.allows(scopePurge)) {
				t.Errorf("check = %q, %b, %v; want %q, admin %v, %v", who, sc, ok, tt.who, tt.admin, tt.ok)
			}
		})
	}
}
