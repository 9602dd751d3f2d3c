package purge

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/popcache/popcache/cache"
)

// The journal is a node's durable purge state, in purge.dir: an
// append-only file of records, each the effect of one applied purge (its
// rules, with the time the node applied them) together with the stream
// sequence it came from, so that the two can never disagree. Each record
// is written and fsynced before the purge is acknowledged on the bus; a
// restarted node replays the file into its cache before it serves, and
// resumes the stream after the last sequence. Now and then the file is
// replaced (write, fsync, rename, fsync the directory) by one snapshot
// record of the rules left after retirement.
//
// It is a file rather than keys in the disk tier's Pebble so that purge
// state and cache data fail independently, and either lost is safe: no
// journal means "revalidate everything on disk" (see Service.Start), no
// disk tier means nothing to purge.
//
// Frame: a 4-byte little-endian payload length, the payload's CRC-32C
// (4 bytes, little-endian), then the payload (JSON). Replay stops at the
// first frame that is short or fails its checksum (a write cut by a
// crash) and truncates the file there.

const (
	journalFile     = "journal"
	journalTmp      = "journal.tmp"
	journalLock     = "LOCK"
	maxRecordBytes  = 64 << 20
	journalFrameLen = 8
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is one journal entry.
type record struct {
	// T is "apply" or "snapshot".
	T string `json:"t"`
	// Stream identifies the stream Seq counts in (see streamIdentity).
	Stream string `json:"stream,omitempty"`
	// Seq is the last applied stream sequence, this purge's for "apply".
	Seq uint64 `json:"seq"`
	// ID and At are the purge applied and when ("apply").
	ID string    `json:"id,omitempty"`
	At time.Time `json:"at,omitzero"`
	// Rules are the rules applied ("apply"), or all the rules in force
	// ("snapshot").
	Rules []journalRule `json:"rules,omitempty"`
	// IDs are the purge IDs applied within the retention, with when
	// ("snapshot").
	IDs map[string]time.Time `json:"ids,omitempty"`
}

// journalRule is a cache.PurgeRule as stored.
type journalRule struct {
	Kind  cache.PurgeKind `json:"k"`
	Value string          `json:"v,omitempty"`
	Mode  cache.PurgeMode `json:"m"`
	At    time.Time       `json:"at"`
}

func toJournal(rs []cache.PurgeRule) []journalRule {
	out := make([]journalRule, len(rs))
	for i, r := range rs {
		out[i] = journalRule{Kind: r.Kind, Value: r.Value, Mode: r.Mode, At: r.At}
	}
	return out
}

func fromJournal(rs []journalRule) []cache.PurgeRule {
	out := make([]cache.PurgeRule, len(rs))
	for i, r := range rs {
		out[i] = cache.PurgeRule{Kind: r.Kind, Value: r.Value, Mode: r.Mode, At: r.At}
	}
	return out
}

// journalState is what replaying a journal yields.
type journalState struct {
	Fresh  bool   // no journal existed: the node's purge history is unknown
	Stream string // identity of the stream Seq counts in
	Seq    uint64 // last applied stream sequence
	Rules  []cache.PurgeRule
	IDs    map[string]time.Time
}

// journal appends records to the journal file of a directory it holds
// locked. It is not safe for concurrent use.
type journal struct {
	dir     string
	f       *os.File
	lock    *os.File
	size    int64 // bytes in f
	written int64 // bytes appended since the last compaction
}

// openJournal locks dir (creating it), replays its journal and opens it
// for appending.
func openJournal(dir string) (*journal, journalState, error) {
	st := journalState{IDs: map[string]time.Time{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, st, fmt.Errorf("purge: open journal: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, journalLock))
	if err != nil {
		return nil, st, fmt.Errorf("purge: open journal in %s: %w", dir, err)
	}
	path := filepath.Join(dir, journalFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		lock.Close()
		return nil, st, fmt.Errorf("purge: open journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		lock.Close()
		return nil, st, fmt.Errorf("purge: open journal: %w", err)
	}
	st.Fresh = fi.Size() == 0
	good, err := replay(f, &st)
	if err != nil {
		f.Close()
		lock.Close()
		return nil, st, fmt.Errorf("purge: replay journal %s: %w", path, err)
	}
	if good < fi.Size() {
		// A record cut short by a crash: it was never acknowledged.
		if err := f.Truncate(good); err != nil {
			f.Close()
			lock.Close()
			return nil, st, fmt.Errorf("purge: truncate journal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		lock.Close()
		return nil, st, fmt.Errorf("purge: open journal: %w", err)
	}
	return &journal{dir: dir, f: f, lock: lock, size: good}, st, nil
}

// replay reads the records of r into st and returns the length of the
// valid prefix.
func replay(r io.Reader, st *journalState) (int64, error) {
	br := bufio.NewReader(r)
	var off int64
	var hdr [journalFrameLen]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return off, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > maxRecordBytes {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			return off, nil
		}
		var rec record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return off, fmt.Errorf("record at offset %d: %w", off, err)
		}
		switch rec.T {
		case "snapshot":
			st.Rules = fromJournal(rec.Rules)
			st.IDs = rec.IDs
			if st.IDs == nil {
				st.IDs = map[string]time.Time{}
			}
		case "apply":
			st.Rules = append(st.Rules, fromJournal(rec.Rules)...)
			if rec.ID != "" {
				st.IDs[rec.ID] = rec.At
			}
		default:
			return off, fmt.Errorf("record at offset %d: unknown type %q", off, rec.T)
		}
		st.Stream, st.Seq = rec.Stream, rec.Seq
		off += journalFrameLen + int64(n)
	}
}

// frame encodes rec as a journal frame.
func frame(rec *record) ([]byte, error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if len(payload) > maxRecordBytes {
		return nil, errors.New("record too large")
	}
	b := make([]byte, journalFrameLen, journalFrameLen+len(payload))
	binary.LittleEndian.PutUint32(b[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(payload, crcTable))
	return append(b, payload...), nil
}

// append writes rec and fsyncs it.
func (j *journal) append(rec *record) error {
	b, err := frame(rec)
	if err != nil {
		return fmt.Errorf("purge: journal append: %w", err)
	}
	if _, err := j.f.Write(b); err != nil {
		// Cut what may have been written, so the next record is not
		// read as part of a torn one (replay would stop there).
		j.f.Truncate(j.size)
		j.f.Seek(j.size, io.SeekStart)
		return fmt.Errorf("purge: journal append: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("purge: journal sync: %w", err)
	}
	j.size += int64(len(b))
	j.written += int64(len(b))
	return nil
}

// compact replaces the journal with one snapshot record, atomically.
func (j *journal) compact(rec *record) error {
	b, err := frame(rec)
	if err != nil {
		return fmt.Errorf("purge: journal compact: %w", err)
	}
	tmp := filepath.Join(j.dir, journalTmp)
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("purge: journal compact: %w", err)
	}
	path := filepath.Join(j.dir, journalFile)
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("purge: journal compact: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		return fmt.Errorf("purge: journal compact: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("purge: journal compact: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return fmt.Errorf("purge: journal compact: %w", err)
	}
	j.f.Close()
	j.f, j.size, j.written = f, int64(len(b)), 0
	return nil
}

// close closes the file and releases the lock.
func (j *journal) close() error {
	err := j.f.Close()
	j.lock.Close()
	return err
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
