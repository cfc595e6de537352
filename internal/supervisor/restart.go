package supervisor

import (
	"time"

	"github.com/berth/berth/internal/container"
)

// Docker's restart backoff (moby restartmanager): 100ms, doubling, at most
// a minute, back to 100ms once a run lasted 10s.
const (
	backoffInitial = 100 * time.Millisecond
	backoffMax     = time.Minute
	backoffReset   = 10 * time.Second
)

// restartManager applies a restart policy across the runs of one supervision.
type restartManager struct {
	policy  container.RestartPolicy
	count   int // restarts done; on-failure:N compares it with N
	timeout time.Duration
}

// shouldRestart decides after an exit, returning the delay before the next
// start. An explicit stop always wins, whatever the policy.
func (rm *restartManager) shouldRestart(exitCode int, stoppedByUser bool, ran time.Duration) (bool, time.Duration) {
	switch rm.policy.Name {
	case "", "no":
		return false, 0
	}
	if ran >= backoffReset {
		rm.timeout = 0
	}
	switch {
	case rm.timeout == 0:
		rm.timeout = backoffInitial
	case rm.timeout < backoffMax:
		rm.timeout *= 2
	}
	if rm.timeout > backoffMax {
		rm.timeout = backoffMax
	}
	if stoppedByUser {
		return false, 0
	}
	restart := false
	switch rm.policy.Name {
	case "always", "unless-stopped":
		restart = true
	case "on-failure":
		if max := rm.policy.MaximumRetryCount; max == 0 || rm.count < max {
			restart = exitCode != 0
		}
	}
	if !restart {
		return false, 0
	}
	rm.count++
	return true, rm.timeout
}
