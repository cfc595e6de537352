package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartWaitDelete measures what `berth run --rm --network none
// IMAGE true` costs the runtime: create + start + wait + delete of a
// container running true. Reported as ms/op (mean) and p50-ms (median).
// The init is the test binary re-executed (with all its packages), except
// in the berth-init case.
func BenchmarkStartWaitDelete(b *testing.B) {
	for _, bc := range []struct {
		name      string
		seccomp   bool
		inInit    bool // libseccomp in the init, as stock runc
		external  bool
		berthInit bool // cmd/berth-init as the init, as the shipped berth
	}{
		{"no-seccomp", false, false, false, false},
		{"default-seccomp-precompiled", true, false, false, false},
		{"default-seccomp-precompiled-berth-init", true, false, false, true},
		{"default-seccomp-libseccomp-in-init", true, true, false, false},
		{"runc-binary-default-seccomp", true, false, true, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var r Runtime
			if bc.external {
				ext, err := NewExternal("runc", b.TempDir())
				if err != nil {
					b.Skip(err)
				}
				r = ext
			} else {
				dir := b.TempDir()
				lc := New(dir)
				lc.initCompilesSeccomp = bc.inInit
				if bc.berthInit {
					lc.init = newInitBinaryFrom(filepath.Join(dir, "init"), berthInitBinary(b))
				}
				r = lc
			}
			b.Cleanup(func() { deleteAll(b, r) })
			spec := testSpec(b, bc.seccomp, "true")
			bundle := b.TempDir()
			once := func(id string) time.Duration {
				start := time.Now()
				p, err := r.Start(context.Background(), id, spec, bundle, IO{})
				if err != nil {
					b.Fatal(err)
				}
				if code, err := p.Wait(); err != nil || code != 0 {
					b.Fatalf("exit %d, %v", code, err)
				}
				if err := r.Delete(id, false); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			once("warmup") // fills the seccomp cache, as any earlier run would
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				times = append(times, once(fmt.Sprintf("bench-%d", i)))
			}
			b.StopTimer()
			slices.Sort(times)
			var sum time.Duration
			for _, d := range times {
				sum += d
			}
			b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(times)), "ms/op")
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
