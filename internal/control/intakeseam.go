package control

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	berth "github.com/berth-run/berth"
)

// JobSubmitter creates jobs from bodies as POST /v1/jobs takes them;
// httpapi.Server implements it, so that the API and the SQS intake decode,
// check and create jobs by one function.
type JobSubmitter interface {
	// SubmitJob creates the job body asks for, idempotently: under the
	// body's idempotency key, else under key ("" for none). It returns the
	// job and whether it was created now (false: the key's job, submitted
	// before with the same body). Bad input is a *berth.FieldError, a body
	// over the limit a *TooLargeError, a key used before with another body
	// an *IdempotencyConflictError; any other error is berth's fault and
	// worth a retry.
	SubmitJob(ctx context.Context, body []byte, key string) (job berth.Job, created bool, err error)
}

// TooLargeError is a job's body over the limit of what berth takes.
type TooLargeError struct {
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the body is %d bytes, more than the %d a job's may be", e.Size, e.Limit)
}

// IdempotencyConflictError is a job's idempotency key used before, by
// another job with another body.
type IdempotencyConflictError struct {
	Key   string
	JobID string
}

func (e *IdempotencyConflictError) Error() string {
	return fmt.Sprintf("idempotency key %q was used by job %s with another body: use a new key for another job", e.Key, e.JobID)
}

// IntakeAPI is the SQS calls the intake makes; *sqs.Client implements it.
type IntakeAPI interface {
	QueueAPI
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ IntakeAPI = (*sqs.Client)(nil)
