package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
)

// testPKI writes a CA and a certificate for 127.0.0.1 it signed, and
// returns the paths of the CA, the certificate and its key.
func testPKI(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// TestTLS: a server on HTTPS; an agent and the CLI that verify it by a CA
// file run a job; without the CA they refuse the server.
func TestTLS(t *testing.T) {
	ca, cert, key := testPKI(t)
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(b)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	addr := freeAddr(t)
	s := &server{t: t, data: privateDir(t), addr: addr, image: dockertest.Image(t), scheme: "https", hc: hc,
		args: []string{"--local-agent=false", "--tls-cert", cert, "--tls-key", key, "--advertise-url", "https://" + addr}}
	s.start()
	t.Cleanup(func() { s.stop(syscall.SIGTERM) })

	a := startAgent(t, s, "", "--ca-file", ca)
	s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	// stdout is the job's; stderr may tell why it waits, on a busy machine.
	cli := func(env ...string) (stdout, stderr string, err error) {
		cmd := exec.Command(binary, "run", s.image, "--", "echo", "over tls")
		cmd.Env = append(os.Environ(), append([]string{"BERTH_ADDR=" + s.url(), "BERTH_DATA=" + s.data}, env...)...)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	if out, errOut, err := cli("BERTH_CA_FILE=" + ca); err != nil || out != "over tls\n" {
		t.Errorf("berth run over TLS: %v, stdout %q, stderr %q", err, out, errOut)
	}
	if _, errOut, err := cli(); err == nil || !strings.Contains(errOut, "certificate") {
		t.Errorf("berth run without the CA: %v, stderr %q; want a certificate error", err, errOut)
	}
	tok, _ := os.ReadFile(filepath.Join(s.data, "join.token"))
	untrusting := exec.Command(binary, "agent", "--server", s.url(), "--join-token", strings.TrimSpace(string(tok)),
		"--data", privateDir(t), "--imds", "off")
	out, err := untrusting.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "certificate") {
		t.Errorf("agent without the CA: %v, output %q; want it to stop on a certificate error", err, out)
	}
}

// TestPlainHTTPOnlyOnLoopback: the server will not serve plain HTTP beyond
// this machine unless told to, nor the agent and CLI send tokens in clear to
// another host.
func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	for _, args := range [][]string{
		{"server", "--data", privateDir(t), "--listen", "0.0.0.0:0", "--local-agent=false"},
		{"agent", "--server", "http://192.0.2.1:7070", "--join-token", "x", "--data", privateDir(t)},
	} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "plain HTTP") {
			t.Errorf("berth %v: %v, output %q; want a refusal of plain HTTP", args, err, out)
		}
	}
	cmd := exec.Command(binary, "nodes")
	cmd.Env = append(os.Environ(), "BERTH_ADDR=http://192.0.2.1:7070", "BERTH_TOKEN=x")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "plain HTTP") {
		t.Errorf("berth nodes against a remote plain-HTTP server: %v, output %q; want a refusal", err, out)
	}
}
