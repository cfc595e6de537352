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
	if _, ok, err := s.initTar(idx, parent); err != nil || !ok {
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
	layer, ok, err := s.initTar(idx, parent)
	if err != nil || !ok {
		return err
	}
	if _, err := s.apply(context.Background(), parent, bytes.NewReader(layer), true); err != nil {
		return fmt.Errorf("init layer: %w", err)
	}
	return nil
}

// initTar writes the init layer on parent as a tar. Its etc/ entry copies
// the image's /etc (mode, owner, time), since the top-most layer's
// directory is what the container sees; the files take that time too, so
// the same image always gets the same layer. ok is false where /etc is
// not a directory.
func (s *Store) initTar(idx *index, parent digest.Digest) (layer []byte, ok bool, err error) {
	lowers, err := s.lowers(idx, parent)
	if err != nil {
		return nil, false, err
	}
	etc := &tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}
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
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	hdrs := []*tar.Header{etc}
	for _, f := range initFiles {
		hdrs = append(hdrs, &tar.Header{Name: "etc/" + f, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: etc.ModTime, Format: tar.FormatUSTAR})
	}
	etc.Format = tar.FormatUSTAR
	for _, h := range hdrs {
		if err := w.WriteHeader(h); err != nil {
			return nil, false, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}
