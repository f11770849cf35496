package berth

import (
	_ "crypto/sha512" // the engine knows sha384 and sha512 digests; the reference package only when linked
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

// TestCheckImage checks references that the engine takes and refuses, and
// that checkImage agrees with reference.ParseNormalizedNamed on each.
func TestCheckImage(t *testing.T) {
	sha256 := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		ref string
		ok  bool
	}{
		{"busybox", true},
		{"busybox:latest", true},
		{"busybox:1.36.1-musl", true},
		{"berth-test/busybox:latest", true},
		{"library/busybox", true},
		{"docker.io/library/busybox:1", true},
		{"index.docker.io/busybox", true},
		{"ghcr.io/berth-run/berth:v1.2.3", true},
		{"registry.example.com:5000/team/app/worker:2026-11", true},
		{"localhost/app", true},
		{"localhost:5000/app:dev", true},
		{"[::1]:5000/app", true},
		{"Registry.Example.com/app", true},
		{"Upper/app", true}, // upper case: a registry host
		{"a__b.c-d---e:TAG_1", true},
		{"busybox@" + sha256, true},
		{"busybox:1@" + sha256, true},
		{"busybox@sha512:" + strings.Repeat("0", 128), true},
		{"app:" + strings.Repeat("t", 128), true},

		{"", false},
		{"BARSBOX:1", false},
		{"Busybox", false},
		{"ghcr.io/Team/app", false},
		{"bad image", false},
		{"busybox:", false},
		{"busybox:-x", false},
		{"busybox:" + strings.Repeat("t", 129), false},
		{"busybox@sha256:abc", false},
		{"busybox@sha256:" + strings.Repeat("AB", 32), false},
		{"busybox@md5:" + strings.Repeat("ab", 16), false},
		{"busybox@" + sha256 + ":x", false},
		{"-app", false},
		{"app-", false},
		{"a..b", false},
		{"a/", false},
		{"/a", false},
		{"a//b", false},
		{"https://ghcr.io/app", false},
		{"app\x00", false},
		{"app\n", false},
		{strings.Repeat("ab", 32), false},                // an image id
		{"docker.io/" + strings.Repeat("a", 250), false}, // docker.io/library/aaa…
		{"docker.io/x/" + strings.Repeat("a", 250), true},
		{"docker.io/x/" + strings.Repeat("a", 254), false},
	}
	for _, tt := range tests {
		err := checkImage(tt.ref)
		if (err == nil) != tt.ok {
			t.Errorf("checkImage(%q) = %v, want ok = %v", tt.ref, err, tt.ok)
		}
		if _, rerr := reference.ParseNormalizedNamed(tt.ref); (rerr == nil) != (err == nil) {
			t.Errorf("checkImage(%q) = %v, but reference.ParseNormalizedNamed says %v", tt.ref, err, rerr)
		}
	}
}

// TestCheckImageAgrees compares checkImage with
// reference.ParseNormalizedNamed on many generated strings made of the
// characters references hold, so that the grammar here cannot drift from
// the engine's.
func TestCheckImageAgrees(t *testing.T) {
	pieces := []string{"a", "b", "z", "0", "9", "A", "Z", ".", "_", "__", "-", "/", ":", "@",
		"localhost", "docker.io", "index.docker.io", "5000", "[::1]", "sha256:", strings.Repeat("ab", 32), "latest", " "}
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		ref := b.String()
		err := checkImage(ref)
		_, rerr := reference.ParseNormalizedNamed(ref)
		if (err == nil) != (rerr == nil) {
			t.Errorf("checkImage(%q) = %v, but reference.ParseNormalizedNamed says %v", ref, err, rerr)
		}
		if err == nil {
			accepted++
		}
	}
	if accepted < 500 {
		t.Errorf("only %d of the generated references are valid: the test checks too little", accepted)
	}
}
