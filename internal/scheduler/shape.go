package scheduler

import (
	"math"
	"math/bits"
)

// Resources are counted in integers: CPU in 1/1024 vCPU, memory in MiB.
// Jobs round up and capacities round down, so that the integer sums never
// allow more than the float ones would.
const cpuUnit = 1024

func jobCPU(c float64) int64 { return int64(math.Ceil(c*cpuUnit - 1e-6)) }
func capCPU(c float64) int64 { return int64(math.Floor(c*cpuUnit + 1e-6)) }

// The free capacity of a node is bucketed in each dimension on a
// logarithmic scale with eight buckets per doubling: bucket(u) = u below 16,
// then 8·(k) + u>>k with k = bits.Len(u) − 4. Common sizes (powers of two
// and their 1.5 multiples, in these units) are bucket edges, so a job of
// such a size fits every node of its own bucket and above.
const (
	nBuckets = 192
	nWords   = nBuckets / 64
)

func bucket(u int64) int {
	if u < 16 {
		return int(max(u, 0))
	}
	k := bits.Len64(uint64(u)) - 4
	return min(8*k+int(u>>k), nBuckets-1)
}

// edge is the smallest value in bucket b.
func edge(b int) int64 {
	if b < 16 {
		return int64(b)
	}
	k := b/8 - 1
	return int64(b%8+8) << k
}

// mask is a set of buckets.
type mask [nWords]uint64

func (m *mask) set(i int)   { m[i>>6] |= 1 << (i & 63) }
func (m *mask) clear(i int) { m[i>>6] &^= 1 << (i & 63) }
func (m *mask) empty() bool { return m[0]|m[1]|m[2] == 0 }

// next returns the first member of m at or above i, or -1.
func (m *mask) next(i int) int {
	for w := i >> 6; w < nWords; w++ {
		v := m[w]
		if w == i>>6 {
			v &= ^uint64(0) << (i & 63)
		}
		if v != 0 {
			return w<<6 + bits.TrailingZeros64(v)
		}
	}
	return -1
}

// prev returns the last member of m at or below i, or -1.
func (m *mask) prev(i int) int {
	if i < 0 {
		return -1
	}
	for w := min(i>>6, nWords-1); w >= 0; w-- {
		v := m[w]
		if w == i>>6 && i&63 != 63 {
			v &= (uint64(1) << (i&63 + 1)) - 1
		}
		if v != 0 {
			return w<<6 + 63 - bits.LeadingZeros64(v)
		}
	}
	return -1
}
