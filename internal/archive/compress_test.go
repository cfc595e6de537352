package archive

import (
	"bytes"
	"compress/gzip"
	"io"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestDecompress(t *testing.T) {
	payload := mkTar(t, ent{name: "hello", body: "world"})
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	tests := []struct {
		desc string
		c    Compression
		data func(t *testing.T) []byte
	}{
		{"plain", Uncompressed, func(t *testing.T) []byte { return payload }},
		{"gzip", Gzip, func(t *testing.T) []byte { return gz(payload) }},
		{"gzip multi-member", Gzip, func(t *testing.T) []byte { return append(gz(payload[:100]), gz(payload[100:])...) }},
		{"bzip2", Bzip2, func(t *testing.T) []byte {
			if _, err := exec.LookPath("bzip2"); err != nil {
				t.Skip("no bzip2 binary to make test data")
			}
			cmd := exec.Command("bzip2", "-c")
			cmd.Stdin = bytes.NewReader(payload)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}},
		{"xz", Xz, func(t *testing.T) []byte {
			var buf bytes.Buffer
			w, _ := xz.NewWriter(&buf)
			w.Write(payload)
			w.Close()
			return buf.Bytes()
		}},
		{"zstd", Zstd, func(t *testing.T) []byte {
			enc, _ := zstd.NewWriter(nil)
			return enc.EncodeAll(payload, nil)
		}},
		{"empty", Uncompressed, func(t *testing.T) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			data := tt.data(t)
			if got := DetectCompression(data); got != tt.c {
				t.Fatalf("detected %v, want %v", got, tt.c)
			}
			rc, err := Decompress(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			want := payload
			if tt.desc == "empty" {
				want = nil
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("got %d bytes, want %d", len(out), len(want))
			}
		})
	}
}

func TestDecompressCorrupt(t *testing.T) {
	tests := []struct {
		desc string
		data []byte
	}{
		{"gzip header only", []byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3}},
		{"xz magic then junk", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, bytes.Repeat([]byte{7}, 64)...)},
		{"zstd magic then junk", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{7}, 64)...)},
		{"bzip2 magic then junk", append([]byte("BZh9"), bytes.Repeat([]byte{7}, 64)...)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(tt.data))
			if err != nil {
				return // refused up front: fine
			}
			defer rc.Close()
			if _, err := io.ReadAll(rc); err == nil {
				t.Fatal("corrupt stream read without error")
			}
		})
	}
}
