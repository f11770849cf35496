package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("berth_jobs 0\n")) })
	for _, tt := range []struct {
		token, auth string
		want        int
	}{
		{"", "", http.StatusOK}, // open, as without --metrics-token
		{"", "Bearer anything", http.StatusOK},
		{"s3cret", "", http.StatusUnauthorized},
		{"s3cret", "Bearer wrong", http.StatusUnauthorized},
		{"s3cret", "Bearer s3cre", http.StatusUnauthorized},
		{"s3cret", "Basic s3cret", http.StatusUnauthorized},
		{"s3cret", "s3cret", http.StatusUnauthorized},
		{"s3cret", "Bearer s3cret", http.StatusOK},
		{"s3cret", "bearer s3cret", http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		RequireToken(tt.token, ok).ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("token %q, Authorization %q: %d, want %d", tt.token, tt.auth, rec.Code, tt.want)
		}
		if rec.Code == http.StatusUnauthorized && (rec.Header().Get("WWW-Authenticate") == "" || rec.Body.String() == "berth_jobs 0\n") {
			t.Errorf("token %q, Authorization %q: refused without a challenge, or with the metrics", tt.token, tt.auth)
		}
	}
}
