package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// serverTLS loads the server's certificate and key; both empty means plain
// HTTP.
func serverTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// httpClient returns an HTTP client without an overall timeout (log
// streams and long-polls last) that trusts the certificates in caFile when
// it is set, and then only those: a private CA pins the server, and no
// public CA can vouch for another host in its name.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// checkPlain refuses a plain-HTTP URL to a host that is not this machine,
// unless allowed: tokens would cross the network in the clear.
func checkPlain(addr string, allow bool) error {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("server address %q: %w", addr, err)
	}
	if u.Scheme != "http" || allow || isLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%s is plain HTTP to another host: use https (the server's --tls-cert), or allow it explicitly", addr)
}

// checkListen refuses to serve plain HTTP on an address other hosts reach,
// unless allowed.
func checkListen(listen string, tlsOn, allow bool) error {
	if tlsOn || allow {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %s serves plain HTTP beyond this machine: give --tls-cert and --tls-key, or --allow-http", listen)
}
