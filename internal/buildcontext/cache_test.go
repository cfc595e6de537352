package buildcontext

import (
	"bufio"
	"bytes"
	"maps"
	"testing"
)

func encodeForTest(t testing.TB, entries map[string]cacheEntry) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	if err := encodeStatCache(w, entries); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestStatCacheFormat(t *testing.T) {
	entries := map[string]cacheEntry{
		"app.py":        {Dev: 2049, Ino: 1 << 40, Size: 12345, Mtime: 1733338800123456789, Ctime: -5, Mode: 0o100644, UID: 1000, GID: 1000, Sum: "sha256:abc"},
		"dir/ünïcode":   {Mode: 0o40755, Sum: ""},
		"":              {},
		"big/\x00/name": {Size: 1<<62 + 3, Mode: 0o120777},
	}
	data := encodeForTest(t, entries)
	got, err := decodeStatCache(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, entries) {
		t.Errorf("round trip:\n got %v\nwant %v", got, entries)
	}
	// Every truncation is an error, never a partial map taken for the cache.
	for i := range len(data) {
		if _, err := decodeStatCache(bufio.NewReader(bytes.NewReader(data[:i]))); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded without error", i, len(data))
		}
	}
	// An older version's file (a gob stream, or another version line) is ignored.
	for _, old := range []string{"berth-buildcontext-statcache-v2\n\x00", "\x1a\xff\x81\x03\x01\x01", ""} {
		if _, err := decodeStatCache(bufio.NewReader(bytes.NewReader([]byte(old)))); err == nil {
			t.Errorf("%q: decoded", old)
		}
	}
}

// FuzzStatCacheDecode: any file under the cache dir (a crash's torn write, a
// foreign file) is rejected or decoded into entries that round-trip; it
// never panics or allocates what its lengths claim without the bytes.
func FuzzStatCacheDecode(f *testing.F) {
	f.Add(encodeForTest(f, map[string]cacheEntry{"a": {Size: 1, Sum: "s"}, "b/c": {Mode: 0o40755}}))
	f.Add([]byte(cacheVersion + "\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte(cacheVersion + "\n\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeStatCache(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		again, err := decodeStatCache(bufio.NewReader(bytes.NewReader(encodeForTest(t, got))))
		if err != nil || !maps.Equal(again, got) {
			t.Fatalf("re-encoded entries do not round-trip: %v", err)
		}
	})
}
