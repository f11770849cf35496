package berth

import (
	"errors"
	"net/url"
	"regexp"
)

var (
	// sqsHostRe reads the region of SQS's hosts: sqs.REGION.amazonaws.com
	// (.cn in China), its VPC endpoints (vpce-....sqs.REGION.vpce.amazonaws.com)
	// and the legacy REGION.queue.amazonaws.com.
	sqsHostRe    = regexp.MustCompile(`^(?:[a-z0-9-]+\.)?sqs\.([a-z]{2}(?:-[a-z]+)+-[0-9])\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$`)
	legacyHostRe = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-[0-9])\.queue\.amazonaws\.com$`)
	queuePathRe  = regexp.MustCompile(`^/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$`)
)

// ParseQueueURL checks that s is the URL of an SQS queue,
// https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, and returns the region its
// host names. Any host is taken, so that VPC endpoints and local emulators
// serve too (http only for those); the path must be /ACCOUNT/NAME, with a
// 12-digit account and a queue name. The region is "" when the host names
// none.
func ParseQueueURL(s string) (region string, err error) {
	const want = "not an SQS queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/berth-interruptions"
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !queuePathRe.MatchString(u.Path) {
		return "", errors.New(want)
	}
	if m := sqsHostRe.FindStringSubmatch(u.Hostname()); m != nil {
		region = m[1]
	} else if m := legacyHostRe.FindStringSubmatch(u.Hostname()); m != nil {
		region = m[1]
	} else if u.Hostname() == "queue.amazonaws.com" {
		region = "us-east-1"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && region == "":
	default:
		return "", errors.New(want + " (https)")
	}
	return region, nil
}
