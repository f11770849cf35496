package evaluate

import (
	"testing"
	"time"
)

func TestSubTicks(t *testing.T) {
	tests := []struct {
		changeover, gap time.Duration
		want            int
	}{
		{12 * time.Minute, 195 * time.Second, 1}, // 4 ticks = 13 min, 8% off
		{12 * time.Minute, 600 * time.Second, 4}, // 5 × 150 s = 12.5 min
		{12 * time.Minute, 32 * time.Second, 1},
		{0, time.Minute, 1},
	}
	for _, tt := range tests {
		if got := SubTicks(tt.changeover, tt.gap); got != tt.want {
			t.Errorf("SubTicks(%v, %v) = %d, want %d", tt.changeover, tt.gap, got, tt.want)
		}
	}
}
