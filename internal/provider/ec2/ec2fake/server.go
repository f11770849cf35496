package ec2fake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// xmlns is the namespace of every EC2 response of API version 2016-11-15.
const xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

// handler answers one action. It runs with f.mu held and returns the body
// of the response (encoded inside <ActionResponse>) or an *apiError.
type handler func(f *Fake, p params, now time.Time) (any, error)

// handlers are the actions the fake answers.
var handlers = map[string]handler{
	"CreateFleet":                    (*Fake).createFleet,
	"DescribeInstances":              (*Fake).describeInstances,
	"TerminateInstances":             (*Fake).terminateInstances,
	"DescribeInstanceTypes":          (*Fake).describeInstanceTypes,
	"DescribeSpotPriceHistory":       (*Fake).describeSpotPriceHistory,
	"DescribeSubnets":                (*Fake).describeSubnets,
	"DescribeLaunchTemplates":        (*Fake).describeLaunchTemplates,
	"DescribeSecurityGroups":         (*Fake).describeSecurityGroups,
	"DescribeLaunchTemplateVersions": (*Fake).describeLaunchTemplateVersions,
}

// apiError is an error answered as EC2 answers it.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// badRequest returns an HTTP 400 error with code.
func badRequest(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func missing(param string) *apiError {
	return badRequest("MissingParameter", "The request must contain the parameter %s", param)
}

func invalidValue(param, value string) *apiError {
	return badRequest("InvalidParameterValue", "Invalid value '%s' for %s", value, param)
}

// ServeHTTP answers one request of the EC2 query protocol.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, action, launched, err := f.serve(r)
	if f.cfg.Launched != nil {
		for _, in := range launched {
			f.cfg.Launched(in)
		}
	}
	reqID := f.requestID()
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	status := http.StatusOK
	if err != nil {
		e := asAPIError(err)
		status = e.status
		writeXML(&buf, errorResponse{
			Errors:    []errorXML{{Code: e.code, Message: e.message}},
			RequestID: reqID,
		}, xml.StartElement{Name: xml.Name{Local: "Response"}})
	} else {
		if m, ok := body.(interface{ setRequestID(string) }); ok {
			m.setRequestID(reqID)
		}
		writeXML(&buf, body, xml.StartElement{
			Name: xml.Name{Local: action + "Response"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: xmlns}},
		})
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// serve parses r, checks the knobs that fail any action, runs the action
// and logs the call. It returns the instances the action launched too.
func (f *Fake) serve(r *http.Request) (body any, action string, launched []Instance, err error) {
	perr := r.ParseForm()
	form := r.Form
	action = form.Get("Action")
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	defer func() {
		code := ""
		if err != nil {
			code = asAPIError(err).code
		}
		params := cloneValues(form)
		delete(params, "Action")
		delete(params, "Version")
		f.calls = append(f.calls, Call{Action: action, Params: params, Code: code, At: now})
		launched, f.launched = f.launched, nil
	}()
	f.prune(now)
	switch {
	case perr != nil:
		return nil, action, nil, badRequest("MalformedQueryString", "%v", perr)
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") && r.Form.Get("X-Amz-Algorithm") == "":
		return nil, action, nil, &apiError{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"}
	case f.throttle > 0:
		f.throttle--
		return nil, action, nil, &apiError{http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."}
	case action == "":
		return nil, action, nil, badRequest("MissingAction", "The request must contain the parameter Action")
	}
	h := handlers[action]
	switch {
	case h == nil:
		return nil, action, nil, badRequest("InvalidAction", "The action %s is not valid for this web service.", action)
	case f.denied[action]:
		return nil, action, nil, &apiError{http.StatusForbidden, "UnauthorizedOperation",
			fmt.Sprintf("You are not authorized to perform this operation. User: arn:aws:iam::%s:user/berth is not authorized to perform: ec2:%s", f.cfg.AccountID, action)}
	case form.Get("DryRun") == "true":
		return nil, action, nil, &apiError{http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."}
	}
	body, err = h(f, params{form: form}, now)
	return body, action, nil, err
}

// requestID returns a new request id, shaped like EC2's (a UUID).
func (f *Fake) requestID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", f.seq, f.seq)
}

func asAPIError(err error) *apiError {
	if e, ok := err.(*apiError); ok {
		return e
	}
	return &apiError{http.StatusInternalServerError, "InternalError", err.Error()}
}

func writeXML(buf *bytes.Buffer, v any, start xml.StartElement) {
	enc := xml.NewEncoder(buf)
	if err := enc.EncodeElement(v, start); err != nil {
		// Every response is one of this package's types: a failure is a
		// bug here, answered as EC2 answers its own.
		buf.Reset()
		buf.WriteString(xml.Header)
		xml.NewEncoder(buf).EncodeElement(errorResponse{
			Errors: []errorXML{{Code: "InternalError", Message: err.Error()}},
		}, xml.StartElement{Name: xml.Name{Local: "Response"}})
	}
}

type errorResponse struct {
	Errors    []errorXML `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

type errorXML struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// meta begins every successful response.
type meta struct {
	RequestID string `xml:"requestId"`
}

func (m *meta) setRequestID(id string) { m.RequestID = id }

// Shapes shared by several responses.

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type stateXML struct {
	Code int32  `xml:"code"`
	Name string `xml:"name"`
}

// timeFormat is how EC2 writes times: ISO 8601 in UTC, to the millisecond.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime reads a time as the SDK writes it.
func parseTime(param, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalidValue(param, s)
}

// tagsXML returns tags sorted by key.
func tagsXML(tags map[string]string) []tagXML {
	out := make([]tagXML, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, tagXML{k, tags[k]})
	}
	return out
}
