package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/berth-run/berth/client"
)

// connectStack reads the flags of `deploy aws CMD`, which takes no more
// than the stack's, and connects to the stack's services.
func connectStack(ctx context.Context, env *cliEnv, cmd string, args []string) (*stackOps, error) {
	fs := newFlagSet(env, "deploy aws "+cmd, "deploy aws "+cmd+" [--stack NAME] [--region R]")
	s := &stackOps{}
	var region string
	stackFlags(fs, s, &region)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if err := s.connect(ctx, env, region); err != nil {
		return nil, err
	}
	return s, nil
}

// deployStatus prints the stack's status, the control plane's address
// and health, and the pools.
func deployStatus(ctx context.Context, env *cliEnv, args []string) error {
	s, err := connectStack(ctx, env, "status", args)
	if err != nil {
		return err
	}
	st, err := s.describe(ctx, s.name)
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("no stack %s (berth deploy aws up makes it)", s.name)
	}
	if err := s.checkOwner(st); err != nil {
		return err
	}
	status := string(st.StackStatus)
	if r := aws.ToString(st.StackStatusReason); r != "" {
		status += " (" + r + ")"
	}
	fmt.Fprintf(s.out, "stack:   %s\nstatus:  %s\n", s.name, status)
	fmt.Fprintf(s.out, "server:  %s\n", s.server(ctx, stackOutput(st, "ServerUrlParameter")))
	if pools := stackOutput(st, "Pools"); pools != "" {
		fmt.Fprintf(s.out, "pools:   %s\n", pools)
	}
	if store := stackOutput(st, "Store"); store != "" {
		fmt.Fprintf(s.out, "store:   %s\n", store)
	}
	return nil
}

// server says where the control plane is, from the SSM parameter it
// publishes its URL in, and whether its /healthz answers.
func (s *stackOps) server(ctx context.Context, parameter string) string {
	if parameter == "" {
		return "not yet known (the stack has no outputs)"
	}
	url, err := s.parameter(ctx, parameter, false)
	if err != nil {
		return fmt.Sprintf("not yet published in %s (%v)", parameter, err)
	}
	hc, err := s.caClient(ctx)
	if err != nil {
		return fmt.Sprintf("%s (health unknown: %v)", url, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.New(url, "", hc).Health(ctx); err != nil {
		return fmt.Sprintf("%s (unreachable: %v)", url, err)
	}
	return url + " (healthy)"
}

// caClient returns an HTTP client that trusts the cluster's CA, which the
// control plane publishes in SSM, besides the system's.
func (s *stackOps) caClient(ctx context.Context) (*http.Client, error) {
	pem, err := s.parameter(ctx, "/berth/"+s.name+"/ca.pem", false)
	if apiCode(err) == "ParameterNotFound" {
		return http.DefaultClient, nil
	}
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(pem)) {
		return nil, fmt.Errorf("/berth/%s/ca.pem is not a PEM certificate", s.name)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// parameter reads an SSM parameter, decrypting a SecureString.
func (s *stackOps) parameter(ctx context.Context, name string, decrypt bool) (string, error) {
	out, err := s.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt)})
	if err != nil {
		return "", fmt.Errorf("read SSM parameter %s: %w", name, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// deployToken prints the cluster's admin token, from its SSM SecureString.
func deployToken(ctx context.Context, env *cliEnv, args []string) error {
	s, err := connectStack(ctx, env, "token", args)
	if err != nil {
		return err
	}
	name := "/berth/" + s.name + "/admin-token"
	if st, err := s.describe(ctx, s.name); err != nil {
		return err
	} else if st != nil {
		if err := s.checkOwner(st); err != nil {
			return err
		}
		if p := stackOutput(st, "AdminTokenParameter"); p != "" {
			name = p
		}
	}
	tok, err := s.parameter(ctx, name, true)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(s.out, tok)
	return err
}
