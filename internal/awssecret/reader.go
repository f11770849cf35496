// Package awssecret reads, for the node agent, the secrets that jobs'
// secret_env references name: SSM Parameter Store parameters
// (GetParameter, with decryption) and Secrets Manager secrets
// (GetSecretValue, with the json-key, version-stage and version-id of ECS
// task definitions). It uses aws-sdk-go-v2 with the SDK's default
// configuration, loaded at the first reference: credentials from the
// SDK's chain (environment, shared files, the instance's role), the
// endpoint from AWS_ENDPOINT_URL when set, the region from the ARN, else
// the SDK's, else the instance's. It declares the two calls it makes as
// its own interfaces.
package awssecret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	berth "github.com/berth-run/berth"
)

// SSM is the call of SSM Parameter Store that Reader makes.
type SSM interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretsManager is the call of Secrets Manager that Reader makes.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Reader reads secret references. It implements agent.Secrets.
type Reader struct {
	load func(ctx context.Context) (aws.Config, error)

	// mu guards ssm and sm, made at the first reference.
	mu  sync.Mutex
	ssm SSM
	sm  SecretsManager
}

// New returns a Reader with the SDK's default configuration, loaded when
// the first reference is read.
func New() *Reader {
	return &Reader{load: func(ctx context.Context) (aws.Config, error) {
		return config.LoadDefaultConfig(ctx, config.WithEC2IMDSRegion())
	}}
}

// NewWithConfig returns a Reader with clients made from cfg.
func NewWithConfig(cfg aws.Config) *Reader {
	return NewWithClients(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg))
}

// NewWithClients returns a Reader that calls the clients given.
func NewWithClients(p SSM, s SecretsManager) *Reader {
	return &Reader{ssm: p, sm: s}
}

// clients returns the clients, loading the configuration the first time.
func (r *Reader) clients(ctx context.Context) (SSM, SecretsManager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ssm == nil {
		cfg, err := r.load(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: load the AWS configuration: %v", berth.ErrSecretUnavailable, err)
		}
		r.ssm, r.sm = ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	}
	return r.ssm, r.sm, nil
}

// Resolve returns the secret ref names. Its errors are
// berth.ErrSecretUnavailable when the service could not be asked or
// failed on its side, and otherwise say what the service refused ("ParameterNotFound",
// "AccessDeniedException: ..."); none holds the secret.
func (r *Reader) Resolve(ctx context.Context, ref berth.SecretRef) (string, error) {
	p, s, err := r.clients(ctx)
	if err != nil {
		return "", err
	}
	switch ref.Service {
	case berth.SecretSSM:
		return parameter(ctx, p, ref)
	case berth.SecretSecretsManager:
		return secretValue(ctx, s, ref)
	}
	return "", fmt.Errorf("no service %q keeps secrets", ref.Service)
}

func parameter(ctx context.Context, c SSM, ref berth.SecretRef) (string, error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref.ID), WithDecryption: aws.Bool(true)},
		func(o *ssm.Options) {
			if ref.Region != "" {
				o.Region = ref.Region
			}
		})
	if err != nil {
		return "", callError(err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("SSM answered no value")
	}
	return *out.Parameter.Value, nil
}

func secretValue(ctx context.Context, c SecretsManager, ref berth.SecretRef) (string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.ID)}
	if ref.VersionStage != "" {
		in.VersionStage = aws.String(ref.VersionStage)
	}
	if ref.VersionID != "" {
		in.VersionId = aws.String(ref.VersionID)
	}
	out, err := c.GetSecretValue(ctx, in, func(o *secretsmanager.Options) {
		if ref.Region != "" {
			o.Region = ref.Region
		}
	})
	if err != nil {
		return "", callError(err)
	}
	if out.SecretString == nil {
		if out.SecretBinary != nil {
			return "", errors.New("the secret is binary; secret_env takes text secrets")
		}
		return "", errors.New("no value in the answer of Secrets Manager")
	}
	if ref.JSONKey == "" {
		return *out.SecretString, nil
	}
	return jsonKey(*out.SecretString, ref.JSONKey)
}

// jsonKey returns the value of key in secret, a JSON object: a string as
// it is, anything else as its JSON text, as ECS does.
func jsonKey(secret, key string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(secret), &obj); err != nil {
		return "", fmt.Errorf("the secret is not a JSON object, so it has no key %q", key)
	}
	raw, ok := obj[key]
	if !ok {
		return "", fmt.Errorf("the secret has no JSON key %q", key)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	return string(raw), nil
}

// callError words the error of a call: what the service refused (its
// code and message), or berth.ErrSecretUnavailable for an error that
// asking again may cure (the network, throttling, the service's own
// faults), as the SDK's retryer judges it, once its own retries are
// spent.
func callError(err error) error {
	if noCredentials(err) {
		// Not the service's fault, nor one asking again cures: the node
		// is not set up to read secrets.
		return fmt.Errorf("this node has no AWS credentials to read it (an instance role, or the AWS SDK's usual settings): %v", err)
	}
	var api smithy.APIError
	retryable := retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() ||
		retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool()
	if !errors.As(err, &api) || retryable || api.ErrorFault() == smithy.FaultServer {
		return fmt.Errorf("%w: %v", berth.ErrSecretUnavailable, err)
	}
	if msg := api.ErrorMessage(); msg != "" && msg != api.ErrorCode() {
		return fmt.Errorf("%s: %s", api.ErrorCode(), msg)
	}
	return errors.New(api.ErrorCode())
}

// noCredentials reports whether err is the SDK finding no credentials to
// sign with. The SDK has no type for it: its chain words it as "get
// identity: get credentials: ...", and the failing providers as below.
func noCredentials(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "get identity: get credentials:") &&
		(strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "no EC2 IMDS role found") ||
			strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "static credentials are empty"))
}
