// Package deadline decides, tick by tick, whether a job with a deadline runs
// on Spot, on on-demand capacity or not at all.
//
// The decision API is pure: a Policy takes the job's State and an Observation
// of the Spot pool now and returns the Mode for the next tick. Every policy's
// answer passes through Guard, the safety net: no policy may choose a mode
// after which on-demand capacity alone could no longer meet a deadline that
// it could meet before the choice, nor pay for Spot where the job could not
// end on Spot before the safety net moved it (SpotCanFinish): such a job
// runs on on-demand from the start.
//
// The policies are Greedy, UniformProgress (the rule of Wu et al., "Can't Be
// Late", NSDI '24, with its hysteresis and safety net) and Adaptive, berth's
// own, which moves the uniform-progress line by the Spot supply it expects
// from the pool's observed availability and keeps Uniform Progress's
// hysteresis only where Spot returns in short bursts near the deadline.
//
// For a fleet, JobState reads a job's State from its attempts, Route sends a
// queued job to the pool of the market its policy chooses (or holds it),
// Move says when a running job changes market, and SpotWatch keeps the
// statistics of a Spot pool as the fleet observes it. The server and berth
// sim both use them.
//
// Nothing here reads a clock, starts a goroutine or does I/O. The offline
// measure of the policies against Spot availability traces, with the
// omniscient lower bound, is package internal/deadline/evaluate, which the
// server does not link.
package deadline
