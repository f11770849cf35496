package berth

import "net/url"

// WithoutSecrets is j as berth shows it outside its owners' API: without
// its env, which often holds secrets, without its secret_env, not even the
// names, and without credentials in its callback URL. The completion
// webhook and the answer to a job's own callback carry it.
func (j Job) WithoutSecrets() Job {
	j.Env = nil
	j.SecretEnv = nil
	j.CallbackURL = RedactURL(j.CallbackURL)
	return j
}

// RedactURL is s without the user name and password it may hold, for logs
// and views.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
