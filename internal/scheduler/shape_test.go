package scheduler

import "testing"

func TestShape(t *testing.T) {
	for _, tt := range []struct {
		cpu  float64
		mem  int64
		want string
	}{
		{0.5, 256, "0.5 vCPU/256 MiB"},
		{4, 16384, "4 vCPU/16 GiB"},
		{1.25, 1536, "1.25 vCPU/1.5 GiB"},
		{1000, 9728 << 10, "1000 vCPU/9.5 TiB"},
		{1024, 1 << 20, "1024 vCPU/1 TiB"},
		{0.01, 6, "0.01 vCPU/6 MiB"},
		{-1, 0, "0 vCPU/0 MiB"},
	} {
		if got := Shape(tt.cpu, tt.mem); got != tt.want {
			t.Errorf("Shape(%v, %d) = %q, want %q", tt.cpu, tt.mem, got, tt.want)
		}
	}
}
