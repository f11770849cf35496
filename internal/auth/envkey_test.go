package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestEnvKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, EnvKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v, want 0600", EnvKeyFile, fi.Mode().Perm())
	}
	k2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	plain, ad := []byte("hunter2"), []byte("job_1\x00DB_PASSWORD")
	a, err := k1.EnvKey().Seal(plain, ad)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k1.EnvKey().Seal(plain, ad)
	if bytes.Equal(a, b) || bytes.Contains(a, plain) {
		t.Errorf("two seals of one value are equal or hold it: %x, %x", a, b)
	}
	got, err := k2.EnvKey().Open(a, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("Open after a reload = %q, %v; want %q", got, err, plain)
	}
	if _, err := k2.EnvKey().Open(a, []byte("job_2\x00DB_PASSWORD")); err == nil {
		t.Errorf("a value opened for another job")
	}
	a[len(a)-1] ^= 1
	if _, err := k2.EnvKey().Open(a, ad); err == nil {
		t.Errorf("a changed value opened")
	}
	other, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.EnvKey().Open(b, ad); err == nil {
		t.Errorf("a value opened under another server's key")
	}
}

func TestEnvKeyFileRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, EnvKeyFile), []byte("not hex, but longer than thirty-two characters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Errorf("LoadOrCreate with a key file that holds no key = nil error")
	}
}
