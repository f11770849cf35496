package awsfake

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatchPath is the path prefix of CloudWatch's operations in the
// Smithy RPC v2 CBOR protocol, which aws-sdk-go-v2's service/cloudwatch
// speaks from v1.53.0: POST CloudWatchPath + "PutMetricData".
const CloudWatchPath = "/service/GraniteServiceVersion20100801/operation/"

// CloudWatch's limits on a PutMetricData call.
const (
	MaxMetricDataBytes = 1 << 20 // the request's body, as sent
	MaxMetricData      = 1000    // data in MetricData and EntityMetricData together
	MaxDimensions      = 30      // per datum
)

// The errors CloudWatch answers for throttling and for its own faults,
// for CloudWatch.FailNext.
var (
	Throttling           = APIError{Status: 400, Code: "Throttling", Message: "Rate exceeded"}
	InternalServiceError = APIError{Status: 500, Code: "InternalServiceError", Message: "Internal service error"}
)

// Datum is one metric datum CloudWatch accepted.
type Datum struct {
	Namespace  string
	MetricName string
	Dimensions map[string]string
	// Value is the datum's value; a datum of Values and Counts, or of
	// StatisticValues, has none.
	Value     float64
	Values    []float64
	Counts    []float64
	Unit      string // "" when the call named none
	Timestamp time.Time
	// StorageResolution is 1 for high-resolution data, else 60.
	StorageResolution int
}

// CloudWatch is a wire fake of Amazon CloudWatch's PutMetricData in the
// Smithy RPC v2 CBOR protocol, in AWS's query-compatible dialect: the
// error's query code rides in the x-amzn-query-error header, which the SDK
// makes the error's code ("InvalidParameterValue"). It checks what
// CloudWatch checks (the namespace, at most MaxMetricData data and
// MaxMetricDataBytes of body, at most MaxDimensions dimensions, finite
// values, known units, storage resolutions and timestamps) and refuses
// with CloudWatch's errors; it accepts gzip bodies, as the SDK sends those
// of 10 KB and more. Other operations are answered UnknownOperationException.
type CloudWatch struct {
	// mu guards failNext, calls and data.
	mu       sync.Mutex
	failNext []APIError
	calls    []Call
	data     []Datum
}

// NewCloudWatch returns a CloudWatch with no data.
func NewCloudWatch() *CloudWatch { return &CloudWatch{} }

// FailNext makes the next calls answer errs, one each, in order, whatever
// they ask: Throttling, InternalServiceError, or any other.
func (c *CloudWatch) FailNext(errs ...APIError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext = append(c.failNext, errs...)
}

// Calls returns the calls answered so far, oldest first; Input is the
// decoded CBOR body (maps, lists, strings, float64s, time.Times).
func (c *CloudWatch) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// Data returns the data accepted so far, in the order they came.
func (c *CloudWatch) Data() []Datum {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Datum(nil), c.data...)
}

// cloudWatchTypes are the shapes of the errors, by query code.
var cloudWatchTypes = map[string]string{
	"InvalidParameterValue":       "com.amazonaws.cloudwatch#InvalidParameterValueException",
	"InvalidParameterCombination": "com.amazonaws.cloudwatch#InvalidParameterCombinationException",
	"MissingParameter":            "com.amazonaws.cloudwatch#MissingRequiredParameterException",
	"InternalServiceError":        "com.amazonaws.cloudwatch#InternalServiceFault",
	"Throttling":                  "com.amazonaws.coral.availability#ThrottlingException",
}

// ServeHTTP implements http.Handler.
func (c *CloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, _ := strings.CutPrefix(r.URL.Path, CloudWatchPath)
	call := Call{Operation: op, AccessKey: accessKey(r)}
	var fail *APIError
	var data []Datum
	body, size, err := readBody(r)
	switch {
	case r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, CloudWatchPath):
		fail = &APIError{Status: 404, Code: "UnknownOperationException", Message: "no operation at " + r.Method + " " + r.URL.Path}
	case r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor":
		fail = &APIError{Status: 400, Code: "SerializationException", Message: "want header smithy-protocol: rpc-v2-cbor"}
	case r.Header.Get("Content-Type") != "application/cbor":
		fail = &APIError{Status: 400, Code: "SerializationException", Message: "want Content-Type application/cbor"}
	case call.AccessKey == "":
		fail = &APIError{Status: 403, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	case size > MaxMetricDataBytes:
		fail = &APIError{Status: 413, Code: "RequestEntityTooLarge", Message: fmt.Sprintf("Request size %d exceeded %d bytes", size, MaxMetricDataBytes)}
	case err != nil:
		fail = &APIError{Status: 400, Code: "SerializationException", Message: err.Error()}
	case op != "PutMetricData":
		fail = &APIError{Status: 400, Code: "UnknownOperationException", Message: "the fake serves PutMetricData only, not " + op}
	}
	var in cbor.Map
	if fail == nil {
		v, err := cbor.Decode(body)
		in, _ = v.(cbor.Map)
		if err != nil || in == nil {
			fail = &APIError{Status: 400, Code: "SerializationException", Message: "the body is not a CBOR map"}
		} else {
			call.Input, _ = goValue(in).(map[string]any)
		}
	}
	c.mu.Lock()
	if fail == nil && len(c.failNext) > 0 {
		fail = &c.failNext[0]
		c.failNext = c.failNext[1:]
	}
	c.mu.Unlock()
	if fail == nil {
		data, fail = putMetricData(in, time.Now())
	}
	c.mu.Lock()
	if fail != nil {
		call.Code = fail.Code
	} else {
		c.data = append(c.data, data...)
	}
	c.calls = append(c.calls, call)
	n := len(c.calls)
	c.mu.Unlock()
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("fake-%d", n))
	if fail != nil {
		writeCBORError(w, *fail)
		return
	}
	w.Write(cbor.Encode(cbor.Map{}))
}

// readBody reads a request's body, gunzipping it when it says so; size is
// the body's length as sent.
func readBody(r *http.Request) (body []byte, size int, err error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4*MaxMetricDataBytes))
	if err != nil {
		return nil, len(raw), err
	}
	if r.Header.Get("Content-Encoding") != "gzip" {
		return raw, len(raw), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, len(raw), fmt.Errorf("the body is not gzip: %v", err)
	}
	body, err = io.ReadAll(io.LimitReader(zr, 40*MaxMetricDataBytes))
	if err != nil {
		return nil, len(raw), fmt.Errorf("the body is not gzip: %v", err)
	}
	return body, len(raw), nil
}

// writeCBORError answers e as the protocol does: a CBOR map with the
// error's shape in __type, and its query code and fault in
// x-amzn-query-error.
func writeCBORError(w http.ResponseWriter, e APIError) {
	typ, ok := cloudWatchTypes[e.Code]
	if !ok {
		typ = e.Code
	}
	fault := "Sender"
	if e.Status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", e.Code+";"+fault)
	w.WriteHeader(e.Status)
	body := cbor.Map{"__type": cbor.String(typ), "message": cbor.String(e.Message)}
	if e.Code == "InternalServiceError" {
		body["Message"] = cbor.String(e.Message) // InternalServiceFault's member
	}
	w.Write(cbor.Encode(body))
}

// goValue turns a decoded CBOR value into plain Go values.
func goValue(v cbor.Value) any {
	switch v := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = goValue(x)
		}
		return m
	case cbor.List:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = goValue(x)
		}
		return l
	case cbor.String:
		return string(v)
	case cbor.Bool:
		return bool(v)
	case *cbor.Tag:
		if t, err := cbor.AsTime(v); err == nil {
			return t
		}
		return goValue(v.Value)
	case cbor.Uint, cbor.NegInt, cbor.Float32, cbor.Float64:
		f, _ := cbor.AsFloat64(v)
		return f
	}
	return nil
}

// invalid is CloudWatch's answer to a value it refuses.
func invalid(format string, args ...any) *APIError {
	return &APIError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf(format, args...)}
}

func missing(param string) *APIError {
	return &APIError{Status: 400, Code: "MissingParameter", Message: "The parameter " + param + " is required."}
}

func combination(a, b string) *APIError {
	return &APIError{Status: 400, Code: "InvalidParameterCombination",
		Message: fmt.Sprintf("The parameters %s and %s are mutually exclusive and you have specified both.", a, b)}
}

// CheckNamespace returns CloudWatch's error for a namespace it refuses,
// or nil: 1 to 255 printable ASCII characters, not only spaces, not
// starting with ':' and not in the "AWS/" namespaces.
func CheckNamespace(ns string) *APIError {
	if ns == "" {
		return missing("Namespace")
	}
	if len(ns) > 255 || strings.HasPrefix(ns, "AWS/") || strings.HasPrefix(ns, ":") || strings.TrimSpace(ns) == "" {
		return invalid("The value %s for parameter Namespace is invalid.", ns)
	}
	for _, r := range ns {
		if r < 0x20 || r > 0x7e {
			return invalid("The value %s for parameter Namespace is invalid.", ns)
		}
	}
	return nil
}

// putMetricData checks one call's input as CloudWatch does, at now, and
// returns its data.
func putMetricData(in cbor.Map, now time.Time) ([]Datum, *APIError) {
	ns, _ := in["Namespace"].(cbor.String)
	if e := CheckNamespace(string(ns)); e != nil {
		return nil, e
	}
	list, _ := in["MetricData"].(cbor.List)
	entities, _ := in["EntityMetricData"].(cbor.List)
	if len(list) == 0 && len(entities) == 0 {
		return nil, missing("MetricData")
	}
	if len(entities) > 2 {
		return nil, invalid("The collection EntityMetricData must not have a size greater than 2.")
	}
	total := len(list)
	var all []cbor.Value
	all = append(all, list...)
	for _, e := range entities {
		em, _ := e.(cbor.Map)
		inner, _ := em["MetricData"].(cbor.List)
		total += len(inner)
		all = append(all, inner...)
	}
	if total > MaxMetricData {
		return nil, invalid("The collection MetricData must not have a size greater than %d.", MaxMetricData)
	}
	out := make([]Datum, 0, len(all))
	for i, v := range all {
		m, _ := v.(cbor.Map)
		d, e := metricDatum(m, fmt.Sprintf("MetricData.member.%d", i+1), now)
		if e != nil {
			return nil, e
		}
		d.Namespace = string(ns)
		out = append(out, d)
	}
	return out, nil
}

// units are the units CloudWatch knows.
var units = func() map[string]bool {
	m := map[string]bool{}
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes
		Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second
		Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second
		Terabits/Second Count/Second None`) {
		m[u] = true
	}
	return m
}()

// metricDatum checks one datum, called param in the errors.
func metricDatum(m cbor.Map, param string, now time.Time) (Datum, *APIError) {
	d := Datum{Dimensions: map[string]string{}, StorageResolution: 60, Timestamp: now}
	name, _ := m["MetricName"].(cbor.String)
	d.MetricName = string(name)
	if d.MetricName == "" {
		return d, missing(param + ".MetricName")
	}
	if len(d.MetricName) > 255 {
		return d, invalid("The parameter %s.MetricName must be shorter than 256 characters.", param)
	}
	dims, _ := m["Dimensions"].(cbor.List)
	if len(dims) > MaxDimensions {
		return d, invalid("The collection %s.Dimensions must not have a size greater than %d.", param, MaxDimensions)
	}
	for j, v := range dims {
		dm, _ := v.(cbor.Map)
		dp := fmt.Sprintf("%s.Dimensions.member.%d", param, j+1)
		n, _ := dm["Name"].(cbor.String)
		val, _ := dm["Value"].(cbor.String)
		switch {
		case n == "":
			return d, missing(dp + ".Name")
		case val == "":
			return d, missing(dp + ".Value")
		case len(n) > 255:
			return d, invalid("The parameter %s.Name must be shorter than 256 characters.", dp)
		case len(val) > 1024:
			return d, invalid("The parameter %s.Value must be shorter than 1025 characters.", dp)
		}
		if _, dup := d.Dimensions[string(n)]; dup {
			return d, invalid("The collection %s.Dimensions must not have duplicate names: %s.", param, n)
		}
		d.Dimensions[string(n)] = string(val)
	}
	value, hasValue := m["Value"]
	_, hasStats := m["StatisticValues"]
	values, hasValues := m["Values"].(cbor.List)
	switch {
	case hasValue && hasStats:
		return d, combination(param+".Value", param+".StatisticValues")
	case hasValue && hasValues:
		return d, combination(param+".Value", param+".Values")
	case !hasValue && !hasStats && !hasValues:
		return d, missing(param + ".Value")
	}
	if hasValue {
		f, err := cbor.AsFloat64(value)
		if err != nil || !finite(f) {
			return d, invalid("The value %v for parameter %s.Value is invalid.", f, param)
		}
		d.Value = f
	}
	if e := valuesAndCounts(&d, values, m, param); e != nil {
		return d, e
	}
	if u, ok := m["Unit"].(cbor.String); ok {
		if !units[string(u)] {
			return d, invalid("The value %s for parameter %s.Unit is invalid.", u, param)
		}
		d.Unit = string(u)
	}
	if v, ok := m["StorageResolution"]; ok {
		r, err := cbor.AsInt64(v)
		if err != nil || (r != 1 && r != 60) {
			return d, invalid("The value %v for parameter %s.StorageResolution is invalid.", v, param)
		}
		d.StorageResolution = int(r)
	}
	if v, ok := m["Timestamp"]; ok {
		t, err := cbor.AsTime(v)
		switch {
		case err != nil:
			return d, invalid("The parameter %s.Timestamp is not a timestamp.", param)
		case t.After(now.Add(2 * time.Hour)):
			return d, invalid("The parameter %s.Timestamp must specify a time no more than two hours in the future.", param)
		case t.Before(now.Add(-14 * 24 * time.Hour)):
			return d, invalid("The parameter %s.Timestamp must specify a time within the past two weeks.", param)
		}
		d.Timestamp = t
	}
	return d, nil
}

// valuesAndCounts checks a datum's Values and Counts: at most 150 values,
// each finite, and as many counts as values when counts are given.
func valuesAndCounts(d *Datum, values cbor.List, m cbor.Map, param string) *APIError {
	counts, _ := m["Counts"].(cbor.List)
	if len(values) > 150 {
		return invalid("The collection %s.Values must not have a size greater than 150.", param)
	}
	if len(counts) > 0 && len(counts) != len(values) {
		return invalid("The parameters %s.Values and %s.Counts must be of the same size.", param, param)
	}
	for _, l := range []struct {
		in  cbor.List
		out *[]float64
	}{{values, &d.Values}, {counts, &d.Counts}} {
		for _, v := range l.in {
			f, err := cbor.AsFloat64(v)
			if err != nil || !finite(f) {
				return invalid("The value %v for parameter %s.Values is invalid.", f, param)
			}
			*l.out = append(*l.out, f)
		}
	}
	return nil
}

// finite reports whether CloudWatch takes f: a number within ±2^360, and
// not closer to 0 than 2^-260 unless 0.
func finite(f float64) bool {
	a := math.Abs(f)
	return !math.IsNaN(f) && a <= math.Pow(2, 360) && (a == 0 || a >= math.Pow(2, -260))
}
