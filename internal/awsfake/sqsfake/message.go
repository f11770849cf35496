package sqsfake

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// message is one message of a queue.
type message struct {
	seq       int64
	id        string
	body, md5 string
	sender    string
	sent      time.Time
	visibleAt time.Time // receivable from then on
	receipt   int64     // the number of its last receipt handle; 0 before its first receive
	receives  int
	first     time.Time // its first receive
}

func (s *SQS) sendMessage(r *http.Request, in map[string]any) (any, *APIError) {
	body := str(in, "MessageBody")
	delay, fail := bounded(in, "DelaySeconds", 0, 900, -1)
	switch {
	case fail != nil:
		return nil, fail
	case body == "":
		return nil, errMissingParam("MessageBody")
	case in["MessageAttributes"] != nil || in["MessageSystemAttributes"] != nil:
		return nil, errInvalidParam("The fake keeps no message attributes.")
	}
	if bad, ok := invalidChar(body); ok {
		return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#InvalidMessageContents", Code: "InvalidMessageContents",
			Message: fmt.Sprintf("Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", bad)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, fail := s.lookup(in)
	if fail != nil {
		return nil, fail
	}
	if max := q.seconds("MaximumMessageSize"); int64(len(body)) > max {
		return nil, errInvalidParam("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", max)
	}
	if delay < 0 {
		delay = q.seconds("DelaySeconds")
	}
	s.seq++
	now := s.clock()
	sum := md5.Sum([]byte(body))
	m := &message{seq: s.seq, id: messageID(s.seq), body: body, md5: hex.EncodeToString(sum[:]),
		sender: accessKey(r), sent: now, visibleAt: now.Add(time.Duration(delay) * time.Second)}
	q.msgs = append(q.msgs, m)
	s.wakeLocked()
	return map[string]any{"MessageId": m.id, "MD5OfMessageBody": m.md5}, nil
}

// invalidChar returns the first character of body that SQS refuses.
func invalidChar(body string) (rune, bool) {
	for _, c := range body {
		switch {
		case c == utf8.RuneError:
			return c, true
		case c == 0x9 || c == 0xA || c == 0xD,
			c >= 0x20 && c <= 0xD7FF,
			c >= 0xE000 && c <= 0xFFFD,
			c >= 0x10000 && c <= 0x10FFFF:
		default:
			return c, true
		}
	}
	return 0, false
}

// messageID is a message id in SQS's form, a UUID.
func messageID(seq int64) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", seq>>48, seq&(1<<48-1))
}

// receiptHandle is the handle of the receive numbered n of message m of
// queue q: opaque to the caller, as SQS's are.
func receiptHandle(q *queue, m *message, n int64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s\n%d\n%d", q.name, m.seq, n))
}

// parseReceipt reads a receipt handle of q: the message's number and the
// receive's.
func parseReceipt(q *queue, h string) (msg, n int64, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return 0, 0, false
	}
	parts := strings.Split(string(b), "\n")
	if len(parts) != 3 || parts[0] != q.name {
		return 0, 0, false
	}
	msg, err1 := strconv.ParseInt(parts[1], 10, 64)
	n, err2 := strconv.ParseInt(parts[2], 10, 64)
	return msg, n, err1 == nil && err2 == nil && msg > 0 && n > 0
}

// find returns the message numbered seq, or nil once it is deleted.
func (q *queue) find(seq int64) (int, *message) {
	for i, m := range q.msgs {
		if m.seq == seq {
			return i, m
		}
	}
	return -1, nil
}

func (s *SQS) deleteMessage(in map[string]any) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, fail := s.lookup(in)
	if fail != nil {
		return nil, fail
	}
	if fail := q.delete(str(in, "ReceiptHandle")); fail != nil {
		return nil, fail
	}
	return map[string]any{}, nil
}

// delete deletes the message whose latest receipt handle is h. A handle of
// an earlier receive, or of a message deleted already, succeeds and
// deletes nothing, as SQS allows.
func (q *queue) delete(h string) *APIError {
	if h == "" {
		return errMissingParam("ReceiptHandle")
	}
	seq, n, ok := parseReceipt(q, h)
	if !ok {
		return errReceiptHandle(h)
	}
	if i, m := q.find(seq); m != nil && m.receipt == n {
		q.msgs = slices.Delete(q.msgs, i, i+1)
	}
	return nil
}

var batchIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (s *SQS) deleteMessageBatch(in map[string]any) (any, *APIError) {
	entries, _ := in["Entries"].([]any)
	switch {
	case len(entries) == 0:
		return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#EmptyBatchRequest", Code: "AWS.SimpleQueueService.EmptyBatchRequest",
			Message: "There should be at least one DeleteMessageBatchRequestEntry in the request."}
	case len(entries) > 10:
		return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#TooManyEntriesInBatchRequest", Code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
			Message: fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(entries))}
	}
	ids := map[string]bool{}
	for _, e := range entries {
		em, _ := e.(map[string]any)
		id := str(em, "Id")
		if !batchIDRe.MatchString(id) {
			return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#InvalidBatchEntryId", Code: "AWS.SimpleQueueService.InvalidBatchEntryId",
				Message: "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."}
		}
		if ids[id] {
			return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#BatchEntryIdsNotDistinct", Code: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
				Message: "Id " + id + " repeated."}
		}
		ids[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, fail := s.lookup(in)
	if fail != nil {
		return nil, fail
	}
	ok, failed := []any{}, []any{}
	for _, e := range entries {
		em, _ := e.(map[string]any)
		id := str(em, "Id")
		if fail := q.delete(str(em, "ReceiptHandle")); fail != nil {
			failed = append(failed, map[string]any{"Id": id, "SenderFault": true, "Code": fail.Code, "Message": fail.Message})
			continue
		}
		ok = append(ok, map[string]any{"Id": id})
	}
	return map[string]any{"Successful": ok, "Failed": failed}, nil
}

func (s *SQS) changeMessageVisibility(in map[string]any) (any, *APIError) {
	timeout, given, fail := integer(in, "VisibilityTimeout")
	switch {
	case fail != nil:
		return nil, fail
	case !given:
		return nil, errMissingParam("VisibilityTimeout")
	case timeout < 0 || timeout > 43200:
		return nil, errInvalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, fail := s.lookup(in)
	if fail != nil {
		return nil, fail
	}
	h := str(in, "ReceiptHandle")
	if h == "" {
		return nil, errMissingParam("ReceiptHandle")
	}
	seq, n, ok := parseReceipt(q, h)
	if !ok {
		return nil, errReceiptHandle(h)
	}
	now := s.clock()
	_, m := q.find(seq)
	if m == nil || m.receipt != n || !m.visibleAt.After(now) {
		return nil, &APIError{Status: 400, Type: "com.amazonaws.sqs#MessageNotInflight", Code: "AWS.SimpleQueueService.MessageNotInflight",
			Message: "Value " + h + " for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."}
	}
	m.visibleAt = now.Add(time.Duration(timeout) * time.Second)
	s.wakeLocked()
	return map[string]any{}, nil
}

// receiveMessage answers the messages receivable now; when there are none
// and the call (or the queue) asks for a wait, it waits until one is, or
// until the wait is over.
func (s *SQS) receiveMessage(r *http.Request, in map[string]any) (any, *APIError) {
	max, fail := bounded(in, "MaxNumberOfMessages", 1, 10, 1)
	if fail != nil {
		return nil, fail
	}
	visibility, fail := bounded(in, "VisibilityTimeout", 0, 43200, -1)
	if fail != nil {
		return nil, fail
	}
	wait, fail := bounded(in, "WaitTimeSeconds", 0, 20, -1)
	if fail != nil {
		return nil, fail
	}
	attrs := append(stringList(in, "AttributeNames"), stringList(in, "MessageSystemAttributeNames")...)
	var over <-chan time.Time
	for last := false; ; {
		s.mu.Lock()
		q, fail := s.lookup(in)
		if fail != nil {
			s.mu.Unlock()
			return nil, fail
		}
		if wait < 0 {
			wait = q.seconds("ReceiveMessageWaitTimeSeconds")
		}
		if visibility < 0 {
			visibility = q.seconds("VisibilityTimeout")
		}
		now := s.clock()
		got := s.take(q, now, int(max), time.Duration(visibility)*time.Second, attrs)
		next := q.nextVisible(now)
		changed := s.changed
		s.mu.Unlock()
		if len(got) > 0 || wait == 0 || last {
			if len(got) == 0 {
				return map[string]any{}, nil
			}
			return map[string]any{"Messages": got}, nil
		}
		if over == nil {
			t := time.NewTimer(time.Duration(wait) * time.Second)
			defer t.Stop()
			over = t.C
		}
		var soon *time.Timer
		var visible <-chan time.Time
		if !next.IsZero() {
			soon = time.NewTimer(next.Sub(now))
			visible = soon.C
		}
		select {
		case <-r.Context().Done():
			return map[string]any{}, nil
		case <-changed:
		case <-visible:
		case <-over:
			last = true
		}
		if soon != nil {
			soon.Stop()
		}
	}
}

// nextVisible is when the next of q's messages that is not receivable at
// now becomes so; zero when none waits.
func (q *queue) nextVisible(now time.Time) time.Time {
	var next time.Time
	for _, m := range q.msgs {
		if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
	}
	return next
}

// take receives up to max of q's messages receivable at now, hiding each
// for visibility, and returns them as ReceiveMessage answers them, with
// the system attributes named in attrs. s.mu is held.
func (s *SQS) take(q *queue, now time.Time, max int, visibility time.Duration, attrs []string) []any {
	var out []any
	for _, m := range q.msgs {
		if len(out) == max {
			break
		}
		if m.visibleAt.After(now) {
			continue
		}
		s.seq++
		m.receipt, m.visibleAt = s.seq, now.Add(visibility)
		m.receives++
		if m.first.IsZero() {
			m.first = now
		}
		msg := map[string]any{"MessageId": m.id, "ReceiptHandle": receiptHandle(q, m, m.receipt), "MD5OfBody": m.md5, "Body": m.body}
		if a := m.attributes(attrs); len(a) > 0 {
			msg["Attributes"] = a
		}
		out = append(out, msg)
	}
	return out
}

// attributes are the message's system attributes named in names ("All"
// names every one).
func (m *message) attributes(names []string) map[string]string {
	all := map[string]string{
		"SenderId":                         m.sender,
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"ApproximateReceiveCount":          strconv.Itoa(m.receives),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.first.UnixMilli(), 10),
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}
