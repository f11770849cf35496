package cfnfake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// xmlns is the namespace of every response of API version 2010-05-15.
const xmlns = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// handler answers one action. It runs with f.mu held and returns the
// result (encoded inside <ActionResult>) or an *apiError.
type handler func(f *Fake, p url.Values, now time.Time) (any, error)

// handlers are the actions the fake answers.
var handlers = map[string]handler{
	"CreateChangeSet":     (*Fake).createChangeSet,
	"DescribeChangeSet":   (*Fake).describeChangeSet,
	"ExecuteChangeSet":    (*Fake).executeChangeSet,
	"DescribeStacks":      (*Fake).describeStacks,
	"DescribeStackEvents": (*Fake).describeStackEvents,
	"GetTemplate":         (*Fake).getTemplate,
	"DeleteStack":         (*Fake).deleteStack,
}

// apiError is an error answered as CloudFormation answers it.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// validation returns CloudFormation's catch-all error of the caller's
// input, ValidationError (HTTP 400).
func validation(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationError", fmt.Sprintf(format, args...)}
}

func noStack(name string) *apiError { return validation("Stack with id %s does not exist", name) }

// ServeHTTP answers one request of the query protocol.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	result, action, err := f.serve(r)
	f.mu.Lock()
	reqID := f.newID()
	f.mu.Unlock()
	var buf bytes.Buffer
	status := http.StatusOK
	if err != nil {
		e, ok := err.(*apiError)
		if !ok {
			e = &apiError{http.StatusInternalServerError, "InternalFailure", err.Error()}
		}
		status = e.status
		fault := "Sender"
		if status >= 500 {
			fault = "Receiver"
		}
		fmt.Fprintf(&buf, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			xmlns, fault, e.code, escape(e.message), reqID)
	} else {
		fmt.Fprintf(&buf, `<%sResponse xmlns="%s">`, action, xmlns)
		enc := xml.NewEncoder(&buf)
		if result == nil {
			result = struct{}{}
		}
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(&buf, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, reqID, action)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// serve parses r, runs its action and logs the call.
func (f *Fake) serve(r *http.Request) (result any, action string, err error) {
	perr := r.ParseForm()
	form := r.Form
	action = form.Get("Action")
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	defer func() {
		code := ""
		if e, ok := err.(*apiError); ok {
			code = e.code
		}
		params := url.Values{}
		for k, v := range form {
			if k != "Action" && k != "Version" {
				params[k] = append([]string(nil), v...)
			}
		}
		f.calls = append(f.calls, Call{Action: action, Params: params, Code: code, At: now})
	}()
	switch {
	case perr != nil:
		return nil, action, validation("%v", perr)
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
		return nil, action, &apiError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	case action == "":
		return nil, action, &apiError{http.StatusBadRequest, "MissingAction", "Missing Action"}
	}
	h := handlers[action]
	if h == nil {
		return nil, action, &apiError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2010-05-15", action)}
	}
	result, err = h(f, form, now)
	return result, action, err
}

// members returns the list prefix.member.1, prefix.member.2, ... of p.
func members(p url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[fmt.Sprintf("%s.member.%d", prefix, i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// structs returns the list of structures prefix.member.N.Field of p,
// each a map of its fields.
func structs(p url.Values, prefix string) []map[string]string {
	var out []map[string]string
	for i := 1; ; i++ {
		pre := fmt.Sprintf("%s.member.%d.", prefix, i)
		m := map[string]string{}
		for k, v := range p {
			if field, ok := strings.CutPrefix(k, pre); ok {
				m[field] = v[0]
			}
		}
		if len(m) == 0 {
			return out
		}
		out = append(out, m)
	}
}

// timeFormat is how CloudFormation writes times: ISO 8601 in UTC.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }
