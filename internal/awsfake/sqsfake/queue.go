package sqsfake

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-run/berth/internal/awsfake"
)

// queue is one standard queue.
type queue struct {
	name, url string
	created   time.Time
	attrs     map[string]string // the queue's attributes, as CreateQueue takes them
	msgs      []*message        // in the order they were sent
}

// defaultAttrs are a new queue's attributes, as SQS sets them.
var defaultAttrs = map[string]string{
	"VisibilityTimeout":             "30",
	"ReceiveMessageWaitTimeSeconds": "0",
	"DelaySeconds":                  "0",
	"MaximumMessageSize":            "1048576",
	"MessageRetentionPeriod":        "345600",
}

// numericAttrs are the attributes that are numbers, with their bounds.
var numericAttrs = map[string][2]int64{
	"VisibilityTimeout":             {0, 43200},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"DelaySeconds":                  {0, 900},
	"MaximumMessageSize":            {1024, 1048576},
	"MessageRetentionPeriod":        {60, 1209600},
}

// otherAttrs are the attributes the fake keeps but does not act on.
var otherAttrs = []string{"Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
	"KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled"}

// seconds reads one of the queue's numeric attributes.
func (q *queue) seconds(name string) int64 {
	n, _ := strconv.ParseInt(q.attrs[name], 10, 64)
	return n
}

var queueNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (s *SQS) createQueue(r *http.Request, in map[string]any) (any, *APIError) {
	name := str(in, "QueueName")
	switch {
	case name == "":
		return nil, errMissingParam("QueueName")
	case strings.HasSuffix(name, ".fifo"):
		return nil, errInvalidParam("The fake keeps standard queues only, not FIFO queue %s.", name)
	case !queueNameRe.MatchString(name):
		return nil, errInvalidParam("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	given := map[string]string{}
	raw, _ := in["Attributes"].(map[string]any)
	for k, v := range raw {
		sv, _ := v.(string)
		if lim, ok := numericAttrs[k]; ok {
			n, err := strconv.ParseInt(sv, 10, 64)
			if err != nil || n < lim[0] || n > lim[1] {
				return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#InvalidAttributeValue", Code: "InvalidAttributeValue",
					Message: fmt.Sprintf("Invalid value for the parameter %s.", k)}
			}
		} else if !slices.Contains(otherAttrs, k) {
			return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#InvalidAttributeName", Code: "InvalidAttributeName",
				Message: "Unknown Attribute " + k + "."}
		}
		given[k] = sv
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		for k, v := range given {
			if q.attrs[k] != v {
				return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#QueueNameExists", Code: "QueueAlreadyExists",
					Message: "A queue already exists with the same name and a different value for attribute " + k}
			}
		}
		return map[string]any{"QueueUrl": q.url}, nil
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	q := &queue{name: name, url: "http://" + host + "/" + awsfake.Account + "/" + name, created: s.clock(), attrs: maps.Clone(defaultAttrs)}
	maps.Copy(q.attrs, given)
	s.queues[name] = q
	return map[string]any{"QueueUrl": q.url}, nil
}

// queue returns the queue a URL names, whatever its host: its path must
// be /<account>/<name>. s.mu is held.
func (s *SQS) queue(queueURL string) *queue {
	u, err := url.Parse(queueURL)
	if err != nil {
		return nil
	}
	account, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || account != awsfake.Account {
		return nil
	}
	return s.queues[name]
}

// lookup returns the queue of the request's QueueUrl.
func (s *SQS) lookup(in map[string]any) (*queue, *APIError) {
	u := str(in, "QueueUrl")
	if u == "" {
		return nil, errMissingParam("QueueUrl")
	}
	q := s.queue(u)
	if q == nil {
		return nil, errNoQueue()
	}
	return q, nil
}

func (s *SQS) getQueueURL(in map[string]any) (any, *APIError) {
	name, owner := str(in, "QueueName"), str(in, "QueueOwnerAWSAccountId")
	if name == "" {
		return nil, errMissingParam("QueueName")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok || (owner != "" && owner != awsfake.Account) {
		return nil, errNoQueue()
	}
	return map[string]any{"QueueUrl": q.url}, nil
}

// queueAttrNames are the attributes GetQueueAttributes tells, besides
// the queue's own.
var queueAttrNames = []string{"QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
	"ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp"}

func (s *SQS) getQueueAttributes(in map[string]any) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, fail := s.lookup(in)
	if fail != nil {
		return nil, fail
	}
	visible, inFlight, delayed := q.count(s.clock())
	all := maps.Clone(q.attrs)
	all["QueueArn"] = "arn:aws:sqs:" + awsfake.Region + ":" + awsfake.Account + ":" + q.name
	all["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
	all["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inFlight)
	all["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
	all["CreatedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
	all["LastModifiedTimestamp"] = all["CreatedTimestamp"]
	out := map[string]string{}
	for _, name := range stringList(in, "AttributeNames") {
		switch _, known := all[name]; {
		case name == "All":
			maps.Copy(out, all)
		case known:
			out[name] = all[name]
		case numericAttrs[name] != [2]int64{} || slices.Contains(otherAttrs, name) || slices.Contains(queueAttrNames, name):
			// a valid attribute the queue has no value of
		default:
			return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#InvalidAttributeName", Code: "InvalidAttributeName",
				Message: "Unknown Attribute " + name + "."}
		}
	}
	if len(out) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"Attributes": out}, nil
}

// count returns how many of the queue's messages are receivable, in
// flight and delayed at now.
func (q *queue) count(now time.Time) (visible, inFlight, delayed int) {
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receives > 0:
			inFlight++
		default:
			delayed++
		}
	}
	return visible, inFlight, delayed
}

// Count returns how many messages of the queue called name are
// receivable, in flight and delayed.
func (s *SQS) Count(name string) (visible, inFlight, delayed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		return 0, 0, 0
	}
	return q.count(s.clock())
}
