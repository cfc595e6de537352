package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/root"
)

// layerTar is an uncompressed layer holding one file of size bytes.
func layerTar(name string, size int) *bytes.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg})
	tw.Write(make([]byte, size))
	tw.Close()
	return bytes.NewReader(buf.Bytes())
}

// TestDiskUsageSharedLayers: a layer that an image in use shares with an
// unused one is not reclaimable, whichever of the two is listed first
// (the newest image is listed first; here it is the unused one).
func TestDiskUsageSharedLayers(t *testing.T) {
	e, err := Open(root.New(t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base, err := e.Images.Import(ctx, layerTar("base", 100), image.ImportOptions{Ref: "base:1"})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(ref, file string, size int, created time.Time) *image.Image {
		img, err := e.Images.Commit(ctx, image.CommitOptions{Parent: base, Layer: layerTar(file, size), Ref: ref, Created: created})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	now := time.Now()
	used := commit("used:1", "u", 200, now.Add(time.Minute))
	commit("unused:1", "n", 300, now.Add(2*time.Minute))
	if err := e.Containers.Create(&container.Container{Image: used.ID, Snapshot: "none"}); err != nil {
		t.Fatal(err)
	}
	rows, err := e.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	img := rows[0]
	if img.Type != "Images" || img.Total != 3 || img.Active != 1 {
		t.Fatalf("images row %+v", img)
	}
	if img.Size != 600 {
		t.Errorf("size %d, want the three layers' 600 bytes", img.Size)
	}
	if img.Reclaimable != 300 {
		t.Errorf("reclaimable %d, want 300: the unused image's own layer, not the base it shares with the image in use", img.Reclaimable)
	}
}

// TestDropPartialPull: a pull that failed on a full disk leaves nothing it
// wrote; one that failed otherwise keeps its blobs for the retry.
func TestDropPartialPull(t *testing.T) {
	e, err := Open(root.New(t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Content.WriteBlob([]byte("a layer a failed pull wrote"), "")
	if err != nil {
		t.Fatal(err)
	}
	netErr := fmt.Errorf("blob %s: %w", d, io.ErrUnexpectedEOF)
	if got := e.dropPartialPull(netErr); got != netErr || !e.Content.Exists(d) {
		t.Fatalf("network failure: err %v, blob kept %v", got, e.Content.Exists(d))
	}
	full := fmt.Errorf("write %s: %w", d, &os.PathError{Op: "write", Path: "data", Err: syscall.ENOSPC})
	if got := e.dropPartialPull(full); got != full || e.Content.Exists(d) {
		t.Fatalf("full disk: err %v, blob kept %v", got, e.Content.Exists(d))
	}
}
