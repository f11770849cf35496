package deadline

import "fmt"

// Mode is the capacity a job runs on during one tick.
type Mode uint8

// Modes of a job.
const (
	None     Mode = iota // not running
	Spot                 // on a Spot instance
	OnDemand             // on an on-demand instance
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case None:
		return "none"
	case Spot:
		return "spot"
	case OnDemand:
		return "on-demand"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Checkpoint says what a job keeps when it leaves an instance.
type Checkpoint uint8

// Checkpoint modes.
const (
	// CheckpointOnSigterm: the job saves its progress when told to stop, so a
	// changeover costs only the changeover delay.
	CheckpointOnSigterm Checkpoint = iota
	// CheckpointNone: the job restarts from zero after every changeover.
	CheckpointNone
)

// String returns the checkpoint mode as written in a job spec.
func (c Checkpoint) String() string {
	switch c {
	case CheckpointOnSigterm:
		return "on-sigterm"
	case CheckpointNone:
		return "none"
	}
	return fmt.Sprintf("checkpoint(%d)", uint8(c))
}

// ParseCheckpoint reads "on-sigterm" or "none".
func ParseCheckpoint(s string) (Checkpoint, error) {
	switch s {
	case "on-sigterm":
		return CheckpointOnSigterm, nil
	case "none":
		return CheckpointNone, nil
	}
	return 0, fmt.Errorf("checkpoint %q: want on-sigterm or none", s)
}
