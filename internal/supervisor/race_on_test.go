//go:build race

package supervisor

// raceEnabled: the race detector multiplies memory use, so TestSupervisorMemory only logs.
const raceEnabled = true
