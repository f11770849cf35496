package berth

import "testing"

func TestWithoutSecrets(t *testing.T) {
	j := Job{ID: "job_1", JobSpec: JobSpec{Image: "busybox", Env: map[string]string{"TOKEN": "s3cret"},
		CallbackURL: "https://user:pa55@example.com/hook?x=1"}}
	got := j.WithoutSecrets()
	if got.Env != nil || got.CallbackURL != "https://example.com/hook?x=1" || got.Image != "busybox" {
		t.Errorf("WithoutSecrets = env %v, url %q, image %q", got.Env, got.CallbackURL, got.Image)
	}
	if j.Env["TOKEN"] != "s3cret" {
		t.Errorf("WithoutSecrets changed the job it was given")
	}
	for in, want := range map[string]string{
		"http://a:b@h/p": "http://h/p",
		"http://h/p":     "http://h/p",
		"http://a@h":     "http://h",
		"%zz":            "%zz",
		"":               "",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
