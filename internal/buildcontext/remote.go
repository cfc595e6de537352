package buildcontext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
)

// unnamedFilename is Docker's name for a download whose URL and headers
// give no file name (it only matters when dest names the file).
const unnamedFilename = "__unnamed__"

// isURL is Docker's urlutil.IsURL: http:// or https://.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// download fetches an ADD URL source into a fresh temp dir (returned for
// cleanup even on error) as a 0600 file whose mtime is the Last-Modified
// header (zero time without one), as Docker does; with o.Checksum the bytes
// must match it.
func download(ctx context.Context, rawURL string, o CopyOptions) (item, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return item{}, "", withClass(errdefs.ErrInvalid, fmt.Errorf("parse URL %s: %v", rawURL, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return item{}, "", withClass(errdefs.ErrInvalid, fmt.Errorf("%v", err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return item{}, "", withClass(errdefs.ErrUnavailable, fmt.Errorf("%v", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return item{}, "", withClass(errdefs.ErrUnavailable, fmt.Errorf("failed to GET %s with status %s", rawURL, resp.Status))
	}
	name := filenameForDownload(u.Path, resp)
	if name == "" {
		if strings.HasSuffix(o.Dest, "/") {
			return item{}, "", withClass(errdefs.ErrInvalid, fmt.Errorf("cannot determine filename for source %s", rawURL))
		}
		name = unnamedFilename
	}
	tmp, err := os.MkdirTemp(o.TempDir, "berth-remote-")
	if err != nil {
		return item{}, "", err
	}
	file := filepath.Join(tmp, name)
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return item{}, tmp, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return item{}, tmp, fmt.Errorf("download %s: %w", rawURL, err)
	}
	if o.Checksum != "" {
		want, _ := digest.Parse(o.Checksum)
		if want.Algorithm() != digest.SHA256 {
			return item{}, tmp, withClass(errdefs.ErrInvalid, fmt.Errorf("unsupported checksum algorithm %s for %s", want.Algorithm(), rawURL))
		}
		got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
		if got != want {
			return item{}, tmp, withClass(errdefs.ErrInvalid, fmt.Errorf("checksum mismatch for %s: expected %s, got %s", rawURL, want, got))
		}
	}
	mtime := time.Time{}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t
		}
	}
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		return item{}, tmp, err
	}
	s := &source{root: tmp}
	n, err := s.lstat(name)
	if err != nil {
		return item{}, tmp, err
	}
	sum, err := s.hashNode(n)
	if err != nil {
		return item{}, tmp, err
	}
	// Docker puts the bare hash of a download in history, no "file:".
	return item{kind: kindRemote, src: s, node: n, name: name, hash: sum}, tmp, nil
}

// filenameForDownload is Docker's: the URL path's base, else the
// Content-Disposition filename, else "".
func filenameForDownload(p string, resp *http.Response) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		if b := path.Base(p); b != "" && b != "/" && b != "." && b != ".." {
			return b
		}
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			if fn := params["filename"]; fn != "" && !strings.HasSuffix(fn, "/") {
				if b := path.Base(filepath.ToSlash(fn)); b != "" && b != "/" && b != "." && b != ".." {
					return b
				}
			}
		}
	}
	return ""
}
