package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/berth/berth/internal/container"
)

// Docker's HEALTHCHECK defaults and limits (moby daemon/health.go).
const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultStartInterval = 5 * time.Second
	defaultProbeRetries  = 3
	maxHealthLog         = 5
	maxProbeOutput       = 4096
)

// probeArgs returns the command of c's health check, or nil when there is
// none ({} or {"NONE"}). CMD-SHELL runs through the container's SHELL,
// /bin/sh -c by default.
func probeArgs(c *container.Container) []string {
	hc := c.Config.Healthcheck
	if hc == nil || len(hc.Test) < 2 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		return hc.Test[1:]
	case "CMD-SHELL":
		shell := c.Config.Shell
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string{}, shell...), hc.Test[1:]...)
	}
	return nil
}

func hasProbe(c *container.Container) bool { return probeArgs(c) != nil }

// healthMonitor probes one run of a container.
type healthMonitor struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startHealth starts probing c's current run; nil when c has no health check.
func startHealth(ctx context.Context, o Options, c *container.Container) *healthMonitor {
	args := probeArgs(c)
	if args == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &healthMonitor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		monitorHealth(ctx, o, c, args)
	}()
	return h
}

// stop ends probing and waits for an in-flight probe, whose result is
// discarded (the run it judged is over).
func (h *healthMonitor) stop() {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
}

// monitorHealth is moby's monitor loop: the first probe one interval after
// the start (the start interval while the start period lasts and no probe
// has succeeded), each next one an interval after the previous ended.
func monitorHealth(ctx context.Context, o Options, c *container.Container, args []string) {
	hc := c.Config.Healthcheck
	interval := orDefault(hc.Interval, defaultProbeInterval)
	timeout := orDefault(hc.Timeout, defaultProbeTimeout)
	startPeriod := hc.StartPeriod
	retries := hc.Retries
	if retries <= 0 {
		retries = defaultProbeRetries
	}
	started := c.State.StartedAt
	status := container.HealthStarting
	next := func() time.Duration {
		elapsed := time.Since(started)
		if elapsed >= startPeriod {
			return interval
		}
		if rest := startPeriod - elapsed; rest < interval {
			return rest
		}
		if status == container.HealthStarting {
			return defaultStartInterval
		}
		return interval
	}
	timer := time.NewTimer(next())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if cur, err := o.Store.Load(o.ID); err == nil && cur.State.Paused {
			timer.Reset(next()) // a frozen container cannot answer; Docker stops probing it
			continue
		}
		res := probe(ctx, o, c, args, timeout)
		if ctx.Err() != nil {
			return
		}
		updated, err := o.Store.Update(o.ID, func(c *container.Container) error {
			if c.State.Health == nil {
				c.State.Health = &container.Health{}
			}
			applyProbe(c.State.Health, res, c.State.StartedAt, startPeriod, retries)
			return nil
		})
		if err != nil {
			o.Logf("record health of %s: %v", o.ID, err)
		} else {
			status = updated.State.Health.Status
		}
		timer.Reset(next())
	}
}

// probe runs one check. A probe that cannot run or overruns its timeout
// counts as a failure with exit code -1, as in Docker.
func probe(ctx context.Context, o Options, c *container.Container, args []string, timeout time.Duration) container.HealthLog {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &limitedBuffer{}
	code, err := o.Starter.Exec(pctx, c, args, out)
	res := container.HealthLog{Start: start, End: time.Now(), ExitCode: code, Output: out.String()}
	switch {
	case pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		res.ExitCode = -1
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		if o := out.String(); o != "" {
			res.Output += ": " + o
		}
	case err != nil:
		res.ExitCode = -1
		res.Output = err.Error()
	}
	return res
}

// applyProbe is moby's handleProbeResult: keep the last five results;
// success makes it healthy; failures count only after the start period (or
// once it has been healthy), and retries of them make it unhealthy.
func applyProbe(h *container.Health, res container.HealthLog, startedAt time.Time, startPeriod time.Duration, retries int) {
	if len(h.Log) >= maxHealthLog {
		h.Log = append(h.Log[len(h.Log)+1-maxHealthLog:], res)
	} else {
		h.Log = append(h.Log, res)
	}
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = container.HealthHealthy
		return
	}
	if h.Status == container.HealthStarting && res.Start.Sub(startedAt) < startPeriod {
		return
	}
	h.FailingStreak++
	if h.FailingStreak >= retries {
		h.Status = container.HealthUnhealthy
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// limitedBuffer keeps the first maxProbeOutput bytes of a probe's output
// and marks a truncation with "...".
type limitedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(maxProbeOutput-b.buf.Len(), len(p))
	if keep > 0 {
		b.buf.Write(p[:keep])
	}
	if keep < len(p) {
		b.truncated = true
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "..."
	}
	return b.buf.String()
}
