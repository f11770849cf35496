package main

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestCAFileReplacesSystemRoots: with --ca-file, the client trusts that
// file's certificates and nothing else.
func TestCAFileReplacesSystemRoots(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	hc, err := httpClient(ca)
	if err != nil {
		t.Fatal(err)
	}
	want := x509.NewCertPool()
	want.AddCert(srv.Certificate())
	if got := hc.Transport.(*http.Transport).TLSClientConfig.RootCAs; !got.Equal(want) {
		t.Errorf("the client's roots are not exactly the CA file's")
	}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatalf("a server the CA file vouches for: %v", err)
	}
	resp.Body.Close()
}
