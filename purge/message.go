package purge

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// message is a purge as it travels on the bus: the request, who issued it
// and when. Nodes apply the request; the rest is for status and logs.
type message struct {
	// V is the format version, messageVersion.
	V int `json:"v"`
	// ID is the purge's ID; the message's subject ends with it.
	ID string `json:"id"`
	// Issued is when the API accepted it (the issuing node's clock).
	Issued time.Time `json:"issued"`
	// By is the name of the token that issued it ("PURGE" for the method
	// on the client listeners).
	By string `json:"by"`
	// Node is the node that published it.
	Node string `json:"node"`
	Request
}

// messageVersion is the version of the message format. A node skips (and
// counts) a message of a version it does not know.
const messageVersion = 1

// idBytes is the length of a purge ID in bytes (hex-encoded: twice this).
const idBytes = 16

// newID returns a random purge ID.
func newID() string {
	var b [idBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// validID reports whether s has the form of a purge ID: lower-case hex of
// idBytes bytes.
func validID(s string) bool {
	if len(s) != 2*idBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// encode returns m's JSON.
func (m *message) encode() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(m) // cannot fail: strings, bools and a time
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// decodeMessage decodes and validates a message from the bus.
func decodeMessage(data []byte) (*message, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("purge: decode message: %w", err)
	}
	if m.V != messageVersion {
		return nil, fmt.Errorf("purge: decode message: unknown version %d", m.V)
	}
	if !validID(m.ID) {
		return nil, fmt.Errorf("purge: decode message: bad id %q", m.ID)
	}
	if err := m.Request.Validate(); err != nil {
		return nil, fmt.Errorf("purge: decode message %s: %w", m.ID, err)
	}
	return &m, nil
}
