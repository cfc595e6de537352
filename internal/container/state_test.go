package container

import (
	"testing"
	"time"
)

func TestStatusString(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		desc  string
		state State
		want  string
	}{
		{"created", State{Status: StatusCreated}, "Created"},
		{"up seconds", State{Running: true, StartedAt: ago(3 * time.Second)}, "Up 3 seconds"},
		{"up under a second", State{Running: true, StartedAt: ago(100 * time.Millisecond)}, "Up Less than a second"},
		{"up about a minute", State{Running: true, StartedAt: ago(90 * time.Second)}, "Up About a minute"},
		{"up hours", State{Running: true, StartedAt: ago(5 * time.Hour)}, "Up 5 hours"},
		{"paused", State{Running: true, Paused: true, StartedAt: ago(5 * time.Second)}, "Up 5 seconds (Paused)"},
		{"healthy", State{Running: true, StartedAt: ago(2 * time.Second), Health: &Health{Status: HealthHealthy}}, "Up 2 seconds (healthy)"},
		{"health starting", State{Running: true, StartedAt: ago(2 * time.Second), Health: &Health{Status: HealthStarting}}, "Up 2 seconds (health: starting)"},
		{"unhealthy", State{Running: true, StartedAt: ago(2 * time.Second), Health: &Health{Status: HealthUnhealthy}}, "Up 2 seconds (unhealthy)"},
		{"restarting", State{Running: true, Restarting: true, ExitCode: 1, StartedAt: ago(time.Minute), FinishedAt: ago(3 * time.Second)}, "Restarting (1) 3 seconds ago"},
		{"exited", State{ExitCode: 0, StartedAt: ago(time.Hour), FinishedAt: ago(2 * time.Minute)}, "Exited (0) 2 minutes ago"},
		{"exited by signal", State{ExitCode: 137, StartedAt: ago(time.Hour), FinishedAt: ago(90 * time.Minute)}, "Exited (137) 2 hours ago"},
		{"removing", State{Status: StatusRemoving, StartedAt: ago(time.Hour)}, "Removal In Progress"},
		{"dead", State{Dead: true, StartedAt: ago(time.Hour)}, "Dead"},
		{"started, never finished, not running", State{StartedAt: ago(time.Hour)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := StatusString(&Container{State: tt.state}, now); got != tt.want {
				t.Fatalf("StatusString = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStateTransitions(t *testing.T) {
	now := time.Now()
	var s State
	s.Status = StatusCreated
	tests := []struct {
		desc       string
		step       func()
		wantStatus string
		wantName   string
	}{
		{"failed first start stays created", func() { s.SetStopped(127, now) }, StatusCreated, StatusCreated},
		{"start", func() { s.SetRunning(10, now) }, StatusRunning, StatusRunning},
		{"pause", func() { s.SetPaused(true) }, StatusPaused, StatusPaused},
		{"unpause", func() { s.SetPaused(false) }, StatusRunning, StatusRunning},
		{"exit into restart", func() { s.SetRestarting(1, now) }, StatusRestarting, StatusRestarting},
		{"restart", func() { s.SetRunning(11, now) }, StatusRunning, StatusRunning},
		{"exit", func() { s.SetStopped(0, now) }, StatusExited, StatusExited},
	}
	for _, tt := range tests {
		tt.step()
		if s.Status != tt.wantStatus || s.StateName() != tt.wantName {
			t.Fatalf("%s: Status %q StateName %q, want %q/%q", tt.desc, s.Status, s.StateName(), tt.wantStatus, tt.wantName)
		}
	}
	if s.Running || s.Pid != 0 {
		t.Fatalf("stopped state keeps Running=%v Pid=%d", s.Running, s.Pid)
	}
}
