package buildcontext

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchContext is the benchmark context: 5,000 files, 200 MB, in
// 50 directories, made once per process under BERTH_BENCH_DIR (or a temp
// dir).
func benchContext(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("BERTH_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	root := filepath.Join(dir, "ctx-5000x40k")
	if _, err := os.Stat(filepath.Join(root, ".done")); err == nil {
		return root
	}
	buf := make([]byte, 40<<10)
	for i := 0; i < 5000; i++ {
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%04d.bin", i))
		must(b, os.MkdirAll(filepath.Dir(p), 0o755))
		rand.Read(buf)
		must(b, os.WriteFile(p, buf, 0o644))
	}
	must(b, os.WriteFile(filepath.Join(root, "Dockerfile"), []byte("FROM scratch\nCOPY . /app\n"), 0o644))
	must(b, os.WriteFile(filepath.Join(root, ".done"), nil, 0o644))
	return root
}

func benchDigest(b *testing.B, root, cacheDir string) {
	c, _, err := Load(context.Background(), LoadOptions{Path: root, CacheDir: cacheDir})
	must(b, err)
	p, err := NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{"."}, Dest: "/app"})
	must(b, err)
	_ = p.Digest()
	p.Close()
	must(b, c.Close())
}

// BenchmarkDigestCold: Load + NewPlan(COPY . /app) + Digest with no stat
// cache, reading all 200 MB (page cache warm).
func BenchmarkDigestCold(b *testing.B) {
	root := benchContext(b)
	b.SetBytes(5000 * 40 << 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchDigest(b, root, "")
	}
}

// BenchmarkDigestWarm: the same with the persistent stat cache filled,
// which is a cached rebuild's whole cost here.
func BenchmarkDigestWarm(b *testing.B) {
	root := benchContext(b)
	cache := b.TempDir()
	benchDigest(b, root, cache)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchDigest(b, root, cache)
	}
}

// BenchmarkApply: copying the whole context into a fresh rootfs.
func BenchmarkApply(b *testing.B) {
	root := benchContext(b)
	c, _, err := Load(context.Background(), LoadOptions{Path: root})
	must(b, err)
	defer c.Close()
	b.SetBytes(5000 * 40 << 10)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := b.TempDir()
		p, err := NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{"."}, Dest: "/app"})
		must(b, err)
		b.StartTimer()
		must(b, p.Apply(dst))
		b.StopTimer()
		p.Close()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}
