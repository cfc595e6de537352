package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/snapshot"
)

// This file is the ingest API of pull and load: blobs are stored verified
// (IngestBlob, FetchBlob), layers unpacked as snapshots (Unpack, or
// FetchLayer doing both from one stream), and Register then records the
// image. Every step names what it writes on the caller's Lease before
// relying on it, so a GC in another process never takes it, and a process
// killed mid-way leaves nothing visible: at most an ingest (resumed by the
// next FetchBlob of the same digest, or removed by content.Cleanup) and
// unreferenced blobs and snapshots that the next GC collects.

// BlobOpener returns a blob's bytes from offset on (offset > 0 when an
// interrupted download is resumed: an HTTP Range request). It must return a
// reader positioned at offset; a source that cannot seek discards the first
// offset bytes itself. The ingest closes the reader.
type BlobOpener func(ctx context.Context, offset int64) (io.ReadCloser, error)

// IngestBlob stores the blob desc from r, which is read to desc.Size bytes
// at most. It becomes visible only if r yields exactly desc.Size bytes that
// hash to desc.Digest; otherwise nothing is stored and the error names the
// blob. A blob that already exists is success and r is not read. The write
// is not resumable (r cannot be rewound): use FetchBlob for downloads.
func (s *Store) IngestBlob(ctx context.Context, lease *Lease, desc ocispec.Descriptor, r io.Reader) error {
	if err := checkDesc(lease, desc); err != nil {
		return err
	}
	if err := lease.Add(desc.Digest); err != nil {
		return err
	}
	if s.cs.Exists(desc.Digest) {
		return nil
	}
	w, err := s.cs.Writer(randomRef("ingest"))
	if err != nil {
		return err
	}
	defer w.Abort()
	// One byte past the size, so a longer stream is caught rather than cut.
	if _, err := io.Copy(w, io.LimitReader(ctxReader{ctx, r}, desc.Size+1)); err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return commitBlob(w, desc)
}

// FetchBlob stores the blob desc from open, resumably: the ingest is named
// after the digest, so after a crash, a kill -9 or a network error the next
// FetchBlob of the same digest (in any process) continues where the last
// one stopped, asking open for the rest only. A resumed ingest whose bytes
// turn out wrong is discarded and fetched once more from the start. The
// blob becomes visible only once its size and digest match desc. Two
// fetches of one digest at once (goroutines or processes) wait for each
// other rather than download twice. A blob that already exists is success
// and open is not called.
func (s *Store) FetchBlob(ctx context.Context, lease *Lease, desc ocispec.Descriptor, open BlobOpener) error {
	if err := checkDesc(lease, desc); err != nil {
		return err
	}
	if err := lease.Add(desc.Digest); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		w, err := s.fetchWriter(ctx, desc.Digest)
		if err != nil || w == nil {
			return err // w == nil: another fetch committed it
		}
		resumed := w.Offset() > 0
		err = s.fetchInto(ctx, w, desc, open)
		if err == nil || attempt > 0 || !resumed || !errors.Is(err, errdefs.ErrInvalid) {
			return err
		}
		// The partial bytes an earlier run left were wrong (the digest
		// check dropped them): fetch everything once more.
	}
}

// fetchInto completes ingest w from open and commits it. On a transfer
// error the ingest is kept (closed, not aborted) for the next attempt.
func (s *Store) fetchInto(ctx context.Context, w *content.Writer, desc ocispec.Descriptor, open BlobOpener) error {
	defer w.Close()
	if w.Offset() > desc.Size {
		if err := w.Truncate(0); err != nil {
			return err
		}
	}
	if off := w.Offset(); off < desc.Size {
		rc, err := open(ctx, off)
		if err != nil {
			return fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
		_, err = io.Copy(w, io.LimitReader(ctxReader{ctx, rc}, desc.Size-off))
		rc.Close()
		if err != nil {
			return fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
	}
	if w.Offset() < desc.Size {
		// Kept: the next fetch resumes from here.
		return fmt.Errorf("blob %s: transfer ended after %d of %d bytes: %w", desc.Digest, w.Offset(), desc.Size, io.ErrUnexpectedEOF)
	}
	if err := commitBlob(w, desc); err != nil {
		w.Abort()
		return err
	}
	return nil
}

// fetchWriter opens the resumable ingest of blob d, waiting while another
// writer holds it. It returns nil (and no error) once the blob exists.
func (s *Store) fetchWriter(ctx context.Context, d digest.Digest) (*content.Writer, error) {
	delay := 20 * time.Millisecond
	for {
		if s.cs.Exists(d) {
			return nil, nil
		}
		w, err := s.cs.Writer("fetch-" + d.String())
		if err == nil {
			if s.cs.Exists(d) { // committed between our check and our lock
				w.Close()
				return nil, nil
			}
			return w, nil
		}
		if !errors.Is(err, errdefs.ErrUnavailable) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("blob %s: waiting for another download of it: %w", d, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// commitBlob checks w against desc (with messages naming the blob) and
// commits it; an existing blob is success.
func commitBlob(w *content.Writer, desc ocispec.Descriptor) error {
	if err := checkBlob(w, desc); err != nil {
		return err
	}
	if err := w.Commit(desc.Size, desc.Digest); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return nil
}

// checkBlob compares what w holds with desc.
func checkBlob(w *content.Writer, desc ocispec.Descriptor) error {
	if w.Offset() != desc.Size {
		return fmt.Errorf("blob %s: size %d does not match the expected %d: %w", desc.Digest, w.Offset(), desc.Size, errdefs.ErrInvalid)
	}
	if got := w.Digest(); got != desc.Digest {
		return fmt.Errorf("blob %s: digest mismatch: content hashes to %s: %w", desc.Digest, got, errdefs.ErrInvalid)
	}
	return nil
}

// Unpack makes sure the layer blob desc (already in the content store) is
// unpacked as a snapshot on top of parentChain ("" for a base layer), and
// returns the layer's chain ID. The blob is decompressed as a stream
// (gzip, zstd, xz, bzip2 or plain, sniffed: media types lie) straight into
// the snapshot, and its DiffID must match diffID (from the image config).
// An existing snapshot is success without reading the blob. Layers are
// unpacked base first: the parent snapshot must exist.
func (s *Store) Unpack(ctx context.Context, lease *Lease, parentChain digest.Digest, desc ocispec.Descriptor, diffID digest.Digest) (digest.Digest, error) {
	if err := checkDesc(lease, desc); err != nil {
		return "", err
	}
	if err := diffID.Validate(); err != nil {
		return "", fmt.Errorf("layer %s: diff ID %q: %v: %w", desc.Digest, diffID, err, errdefs.ErrInvalid)
	}
	chainID := chainOf(parentChain, diffID)
	if err := lease.Add(desc.Digest, chainID); err != nil {
		return "", err
	}
	if _, err := s.snaps.Stat(chainID); err == nil {
		return chainID, nil
	} else if !errdefs.IsNotFound(err) {
		return "", err
	}
	rd, err := s.cs.Open(desc.Digest)
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	defer rd.Close()
	dec, err := archive.Decompress(ctxReader{ctx, rd})
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	defer dec.Close()
	info, err := s.snaps.Apply(ctx, parentChain, dec)
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
	}
	if info.DiffID != diffID {
		return "", diffIDMismatch(desc.Digest, info.DiffID, diffID)
	}
	return chainID, nil
}

// FetchLayer is FetchBlob and Unpack in one pass: the downloaded bytes go
// at the same time into the (resumable) content ingest and, decompressed,
// into the snapshot, so a layer is unpacked as fast as it arrives. It
// returns the layer's chain ID. What exists is reused: blob and snapshot
// both present is success without calling open; only the blob present →
// Unpack; only the snapshot present → FetchBlob; an interrupted ingest is
// resumed with FetchBlob and then unpacked. The blob is committed only if
// its size and digest match desc and the snapshot's DiffID matches diffID.
// The parent snapshot must exist (unpack base first; download in any order
// with FetchBlob, then Unpack, when layers arrive in parallel).
func (s *Store) FetchLayer(ctx context.Context, lease *Lease, parentChain digest.Digest, desc ocispec.Descriptor, diffID digest.Digest, open BlobOpener) (digest.Digest, error) {
	chainID, have, err := s.beginLayer(lease, parentChain, desc, diffID)
	if err != nil {
		return "", err
	}
	if have {
		if err := s.FetchBlob(ctx, lease, desc, open); err != nil {
			return "", err
		}
		return s.Unpack(ctx, lease, parentChain, desc, diffID)
	}
	w, err := s.fetchWriter(ctx, desc.Digest)
	if err != nil {
		return "", err
	}
	if w == nil || w.Offset() > 0 {
		// Committed by someone else meanwhile, or a resume: the stream no
		// longer starts at byte 0, so fetch the rest, then unpack.
		if w != nil {
			w.Close()
		}
		if err := s.FetchBlob(ctx, lease, desc, open); err != nil {
			return "", err
		}
		return s.Unpack(ctx, lease, parentChain, desc, diffID)
	}
	defer w.Close() // a failed transfer stays resumable
	rc, err := open(ctx, 0)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	if err := s.streamLayer(ctx, w, parentChain, desc, diffID, rc); err != nil {
		return "", err
	}
	return chainID, nil
}

// beginLayer checks a layer's descriptor and diff ID, puts the layer on the
// lease and reports whether its blob or snapshot is already there (then
// the caller completes what is missing instead of streaming it whole).
func (s *Store) beginLayer(lease *Lease, parentChain digest.Digest, desc ocispec.Descriptor, diffID digest.Digest) (chainID digest.Digest, have bool, err error) {
	if err := checkDesc(lease, desc); err != nil {
		return "", false, err
	}
	if err := diffID.Validate(); err != nil {
		return "", false, fmt.Errorf("layer %s: diff ID %q: %v: %w", desc.Digest, diffID, err, errdefs.ErrInvalid)
	}
	chainID = chainOf(parentChain, diffID)
	if err := lease.Add(desc.Digest, chainID); err != nil {
		return "", false, err
	}
	_, statErr := s.snaps.Stat(chainID)
	if statErr != nil && !errdefs.IsNotFound(statErr) {
		return "", false, statErr
	}
	return chainID, statErr == nil || s.cs.Exists(desc.Digest), nil
}

// IngestLayer is FetchLayer for a stream that can be read only once and
// not resumed (a layer inside an archive being loaded): r goes at the same
// time into a content ingest and, decompressed, into the snapshot on
// parentChain. Existing blob and snapshot are reused as in FetchLayer (r
// is then read only as far as needed, possibly not at all). On any error
// nothing of r is kept: the ingest is dropped, and a snapshot unpacked
// from bad bytes is left unreferenced for GC.
func (s *Store) IngestLayer(ctx context.Context, lease *Lease, parentChain digest.Digest, desc ocispec.Descriptor, diffID digest.Digest, r io.Reader) (digest.Digest, error) {
	chainID, have, err := s.beginLayer(lease, parentChain, desc, diffID)
	if err != nil {
		return "", err
	}
	if have {
		if err := s.IngestBlob(ctx, lease, desc, r); err != nil {
			return "", err
		}
		return s.Unpack(ctx, lease, parentChain, desc, diffID)
	}
	w, err := s.cs.Writer(randomRef("ingest"))
	if err != nil {
		return "", err
	}
	defer w.Abort()
	if err := s.streamLayer(ctx, w, parentChain, desc, diffID, r); err != nil {
		return "", err
	}
	return chainID, nil
}

// streamLayer tees r (desc.Size bytes at most) into ingest w and,
// decompressed, into a snapshot on parentChain, then commits w if the
// blob's size and digest and the snapshot's DiffID are right. On a
// transfer error w is left as it is (the caller keeps or drops it).
func (s *Store) streamLayer(ctx context.Context, w *content.Writer, parentChain digest.Digest, desc ocispec.Descriptor, diffID digest.Digest, r io.Reader) error {
	pr, pw := io.Pipe()
	type applied struct {
		diffID digest.Digest
		err    error
	}
	done := make(chan applied, 1)
	// The snapshot must not be committed from a wrong blob: at the end of
	// the stream (which the decoder, and then Apply's final drain, reach
	// before Apply commits) the blob's size and digest are checked, and a
	// mismatch fails the read instead of ending it. The blob writer's own
	// digest is used: it is final once the pipe is closed (teeStream has
	// returned), so nothing is hashed twice.
	verified := &eofCheck{r: pr, check: func() error { return checkBlob(w, desc) }}
	go func() {
		res := applied{}
		dec, err := archive.Decompress(verified)
		if err == nil {
			var info snapshot.Info
			info, err = s.snaps.Apply(ctx, parentChain, dec)
			res.diffID = info.DiffID
			dec.Close()
			if err == nil {
				// The compressed stream may go on past what the decoder
				// needed (trailers, padding): it is part of the blob.
				_, err = io.Copy(io.Discard, verified)
			}
		}
		res.err = err
		pr.CloseWithError(err)
		done <- res
	}()
	copyErr, writeErr := teeStream(io.LimitReader(ctxReader{ctx, r}, desc.Size), pw, w)
	pw.CloseWithError(copyErr)
	res := <-done
	switch {
	case res.err != nil && copyErr != nil && errors.Is(copyErr, res.err):
		// The copy stopped because unpacking failed.
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, res.err)
	case copyErr != nil:
		return fmt.Errorf("blob %s: %w", desc.Digest, copyErr)
	case writeErr != nil:
		return fmt.Errorf("blob %s: %w", desc.Digest, writeErr)
	case w.Offset() < desc.Size:
		return fmt.Errorf("blob %s: transfer ended after %d of %d bytes: %w", desc.Digest, w.Offset(), desc.Size, io.ErrUnexpectedEOF)
	}
	// A wrong blob is the cause whatever unpacking made of it; its bytes
	// are worthless, resumable or not.
	if err := checkBlob(w, desc); err != nil {
		w.Abort()
		return err
	}
	if res.err != nil {
		return fmt.Errorf("unpack layer %s: %w", desc.Digest, res.err)
	}
	if err := commitBlob(w, desc); err != nil {
		w.Abort()
		return err
	}
	if res.diffID != diffID {
		return diffIDMismatch(desc.Digest, res.diffID, diffID)
	}
	return nil
}

// eofCheck turns its reader's end into check's error, if any.
type eofCheck struct {
	r     io.Reader
	check func() error
}

func (c *eofCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		if cerr := c.check(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func diffIDMismatch(blob, got, want digest.Digest) error {
	return fmt.Errorf("layer %s: unpacked content has diff ID %s, the image config says %s: %w", blob, got, want, errdefs.ErrInvalid)
}

// checkDesc rejects what no blob can satisfy before anything is written.
func checkDesc(lease *Lease, desc ocispec.Descriptor) error {
	if lease == nil {
		return fmt.Errorf("ingest: no lease: %w", errdefs.ErrInvalid)
	}
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("blob %q: %v: %w", desc.Digest, err, errdefs.ErrInvalid)
	}
	if desc.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("blob %s: unsupported digest algorithm: %w", desc.Digest, errdefs.ErrInvalid)
	}
	if desc.Size < 0 {
		return fmt.Errorf("blob %s: negative size %d: %w", desc.Digest, desc.Size, errdefs.ErrInvalid)
	}
	return nil
}

// ctxReader stops a copy when ctx is done (Ctrl-C mid-transfer).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
