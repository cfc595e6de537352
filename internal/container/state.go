package container

import (
	"fmt"
	"strconv"
	"time"

	units "github.com/docker/go-units"
)

// Health status values, as Docker names them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// The transitions below mirror moby's container.State setters, so that the
// flags (Running, Paused, Restarting) and Status never disagree whichever
// package moves a container along.

// SetRunning records a successful start of the main process pid at now.
func (s *State) SetRunning(pid int, now time.Time) {
	s.Status = StatusRunning
	s.Running = true
	s.Paused = false
	s.Restarting = false
	s.OOMKilled = false
	s.Dead = false
	s.Pid = pid
	s.ExitCode = 0
	s.Error = ""
	s.StartedAt = now.UTC()
}

// SetStopped records the main process's exit. FinishedAt stays as it was
// when now is zero (used when nothing ever ran).
func (s *State) SetStopped(exitCode int, now time.Time) {
	s.Status = StatusExited
	if s.StartedAt.IsZero() {
		s.Status = StatusCreated // a start that failed leaves it "Created", as in Docker
	}
	s.Running = false
	s.Paused = false
	s.Restarting = false
	s.Pid = 0
	s.ExitCode = exitCode
	if !now.IsZero() {
		s.FinishedAt = now.UTC()
	}
}

// SetRestarting records an exit that the restart policy will follow with a
// new start. Docker keeps Running true meanwhile, so stop/rm treat a
// restarting container as a running one.
func (s *State) SetRestarting(exitCode int, now time.Time) {
	s.Status = StatusRestarting
	s.Running = true
	s.Restarting = true
	s.Paused = false
	s.Pid = 0
	s.ExitCode = exitCode
	s.FinishedAt = now.UTC()
}

// SetPaused records a freeze (true) or thaw (false) of a running container.
func (s *State) SetPaused(paused bool) {
	s.Paused = paused
	if paused {
		s.Status = StatusPaused
	} else if s.Running {
		s.Status = StatusRunning
	}
}

// StateName is Docker's State.State(): the status derived from the flags,
// with Docker's precedence (paused > restarting > running; removing; dead;
// created when it never started; else exited).
func (s *State) StateName() string {
	switch {
	case s.Running && s.Paused:
		return StatusPaused
	case s.Running && s.Restarting:
		return StatusRestarting
	case s.Running:
		return StatusRunning
	case s.Status == StatusRemoving:
		return StatusRemoving
	case s.Dead:
		return StatusDead
	case s.StartedAt.IsZero():
		return StatusCreated
	}
	return StatusExited
}

// StatusString is the STATUS column of `docker ps` for c at time now: "Up 3
// seconds", "Up About a minute (healthy)", "Up 5 seconds (Paused)",
// "Restarting (1) 3 seconds ago", "Exited (0) 2 minutes ago", "Created"...
// It follows moby's State.String word for word, durations by go-units'
// HumanDuration.
func StatusString(c *Container, now time.Time) string {
	s := &c.State
	if s.Running {
		if s.Paused {
			return "Up " + units.HumanDuration(now.Sub(s.StartedAt)) + " (Paused)"
		}
		if s.Restarting {
			return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
		}
		if h := s.Health; h != nil {
			return fmt.Sprintf("Up %s (%s)", units.HumanDuration(now.Sub(s.StartedAt)), h.String())
		}
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt))
	}
	if s.Status == StatusRemoving {
		return "Removal In Progress"
	}
	if s.Dead {
		return "Dead"
	}
	if s.StartedAt.IsZero() {
		return "Created"
	}
	if s.FinishedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
}

// String is the health part of the STATUS column: "health: starting",
// "healthy" or "unhealthy" (an unset status counts as unhealthy, as in moby).
func (h *Health) String() string {
	switch h.Status {
	case HealthStarting:
		return "health: starting"
	case "":
		return HealthUnhealthy
	}
	return h.Status
}

// foldLog writes the parsed log options back into Docker's LogConfig shape
// before a record is saved, so they survive into other processes.
func (h *HostConfig) foldLog() {
	if h.LogConfig.Type == "" {
		h.LogConfig.Type = "json-file"
	}
	if h.LogConfig.Config == nil {
		h.LogConfig.Config = map[string]string{}
	}
	if h.LogMaxSize > 0 {
		if cur, err := units.RAMInBytes(h.LogConfig.Config["max-size"]); err != nil || cur != h.LogMaxSize {
			h.LogConfig.Config["max-size"] = strconv.FormatInt(h.LogMaxSize, 10)
		}
	}
	if h.LogMaxFiles > 0 {
		h.LogConfig.Config["max-file"] = strconv.Itoa(h.LogMaxFiles)
	}
}

// hydrateLog fills LogMaxSize/LogMaxFiles from LogConfig after a load,
// parsing max-size with go-units' RAMInBytes as Docker's json-file driver does.
func (h *HostConfig) hydrateLog() {
	if v, ok := h.LogConfig.Config["max-size"]; ok {
		if n, err := units.RAMInBytes(v); err == nil && n > 0 {
			h.LogMaxSize = n
		}
	}
	if v, ok := h.LogConfig.Config["max-file"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			h.LogMaxFiles = n
		}
	}
}
