package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// The init layer, as Docker's "<container>-init" layer but one per image:
// a committed snapshot on top of an image's layers holding empty
// /etc/hostname, /etc/hosts and /etc/resolv.conf, the mount points of the
// files the runtime bind-mounts there. Without it every container start
// created them in the container's own layer (an overlay copy-up of /etc
// and three new files, then as many deletions when a --rm container goes:
// ~1 ms of a `run --rm` here), and `diff` and `commit` had to tell them
// from the user's changes. It is made on first use, shared by every
// container of the image, and collected with the image (GC keeps it while
// its parent lives).

// initFiles are the mount points the init layer holds, under etc/.
var initFiles = []string{"hostname", "hosts", "resolv.conf"}

// errNoInitLayer says that parent's init layer is still to be made.
var errNoInitLayer = errors.New("no init layer yet")

// initLayerOf returns the chain ID of the init layer on parent, or parent
// itself where the image's /etc is not a plain directory (the runtime then
// creates what it needs, as it did before). The caller holds the store
// lock; errNoInitLayer asks it to let go and call makeInitLayer.
func (s *Store) initLayerOf(idx *index, parent digest.Digest) (digest.Digest, error) {
	for c, r := range idx.Committed {
		if r.Init && r.Parent == parent {
			return c, nil
		}
	}
	if _, ok, err := s.imageEtc(idx, parent); err != nil || !ok {
		return parent, err
	}
	return "", errNoInitLayer
}

// makeInitLayer commits the init layer on parent (another process may win
// the race: Apply then keeps the first).
func (s *Store) makeInitLayer(parent digest.Digest) error {
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	etc, ok, err := s.imageEtc(idx, parent)
	if err != nil || !ok {
		return err
	}
	layer, err := initTar(etc)
	if err != nil {
		return err
	}
	if _, err := s.apply(context.Background(), parent, bytes.NewReader(layer), true); err != nil {
		return fmt.Errorf("init layer: %w", err)
	}
	return nil
}

// imageEtc returns the tar header of the init layer's etc/: a copy of the
// image's /etc (mode, owner, time), since the top-most layer's directory
// is what the container sees. ok is false where /etc is not a directory.
func (s *Store) imageEtc(idx *index, parent digest.Digest) (etc *tar.Header, ok bool, err error) {
	lowers, err := s.lowers(idx, parent)
	if err != nil {
		return nil, false, err
	}
	etc = &tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	for _, l := range lowers {
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(l, "etc"), &st)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			break // whited out: a new /etc
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil, false, nil
		}
		etc.Mode = int64(st.Mode & 0o7777)
		etc.Uid, etc.Gid = int(st.Uid), int(st.Gid)
		etc.ModTime = time.Unix(st.Mtim.Sec, 0)
		break
	}
	return etc, true, nil
}

// initTar writes the init layer under etc as a tar: the files take etc's
// time, so the same image always gets the same layer.
func initTar(etc *tar.Header) ([]byte, error) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	if err := w.WriteHeader(etc); err != nil {
		return nil, err
	}
	for _, f := range initFiles {
		h := &tar.Header{Name: "etc/" + f, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: etc.ModTime, Format: tar.FormatUSTAR}
		if err := w.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
