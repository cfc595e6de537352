package image

import (
	"context"
	"os"
	"testing"
)

// BenchmarkImportRootfs imports the ~170 MB Debian minbase tar that
// bench/run.sh uses (scripts/mkimage-debian.sh), when it is present:
//
//	go test -run '^$' -bench ImportRootfs -benchtime 3x ./internal/image
func BenchmarkImportRootfs(b *testing.B) {
	path := os.Getenv("BERTH_BENCH_TAR")
	if path == "" {
		path = "/var/cache/berth-test/debian-bookworm-minbase.tar"
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Skipf("no rootfs tar: %v", err)
	}
	b.SetBytes(fi.Size())
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnvIn(b, b.TempDir())
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := e.is.Import(context.Background(), f, ImportOptions{Ref: "debian:bench"}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		f.Close()
	}
}
