package control

// wakeup is the one-slot channel a loop waits on between rounds: kicks
// never block, and kicks during a round coalesce into one more round.
type wakeup chan struct{}

func newWakeup() wakeup { return make(wakeup, 1) }

// kick asks for a round.
func (w wakeup) kick() {
	select {
	case w <- struct{}{}:
	default:
	}
}
