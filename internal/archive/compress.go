package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"

	"github.com/berth/berth/internal/errdefs"
)

// Compression is a stream compression format Decompress recognises.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Bzip2
	Xz
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	case Zstd:
		return "zstd"
	}
	return "uncompressed"
}

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b, 0x08}},
	{Bzip2, []byte{'B', 'Z', 'h'}},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// DetectCompression names the compression whose magic number starts b
// (at least 6 bytes for a sure answer).
func DetectCompression(b []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.c
		}
	}
	return Uncompressed
}

// Decompress sniffs r and returns a reader of its decompressed content:
// gzip (multi-member too), bzip2, xz, zstd, or r itself when it starts with
// none of their magic numbers (as `docker import` accepts). Closing the
// result releases the decoder, never r. A corrupt stream surfaces as a read
// error.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("decompress: sniff: %w", err)
	}
	switch c := DetectCompression(head); c {
	case Gzip:
		// pgzip inflates ahead in a goroutine of its own, so decoding
		// overlaps with whatever consumes the stream (a layer's tar
		// extraction): on two cores a pull or import of a .tar.gz takes
		// about the longer of the two instead of their sum.
		zr, err := pgzip.NewReaderN(br, 1<<20, 4)
		if err != nil {
			return nil, fmt.Errorf("decompress gzip: %v: %w", err, errdefs.ErrInvalid)
		}
		return zr, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), nil
	case Xz:
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("decompress xz: %v: %w", err, errdefs.ErrInvalid)
		}
		return io.NopCloser(zr), nil
	case Zstd:
		// One goroutine: layers decode as a stream and the CPU is shared.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("decompress zstd: %v: %w", err, errdefs.ErrInvalid)
		}
		return zr.IOReadCloser(), nil
	default:
		return io.NopCloser(br), nil
	}
}
