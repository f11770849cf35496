package deadline

// Greedy runs on Spot whenever Spot is available, waits when it is not, and
// moves to on-demand only when the safety net forces it; once there, the
// safety net keeps it there to the end.
type Greedy struct{}

// Name returns "greedy".
func (Greedy) Name() string { return "greedy" }

// Decide returns Spot when available, else None, through Guard.
func (Greedy) Decide(s State, o Observation) Mode {
	want := None
	if o.SpotAvailable {
		want = Spot
	}
	return Guard(s, o, want)
}
