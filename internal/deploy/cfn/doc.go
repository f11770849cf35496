// Package cfn builds the CloudFormation template of a berth fleet on AWS
// from a deploy file (berth.yaml with an `aws:` section): the control
// plane in an Auto Scaling group of one, the DynamoDB tables of its
// store, a launch template and role per ec2 pool, the ECS cluster of the
// fargate pools, the intake and interruption queues, the alarms and the
// security groups, with IAM scoped to the stack's own resources.
//
// Build is pure: a configuration in, a template (Go values) out, the same
// bytes every time. It refuses, naming the field, what the stack could
// not run, before anything is created.
//
// The DynamoDB tables are declared in one place, tables.go; the key
// schema there belongs to the store's DynamoDB driver
// (internal/store, --store dynamodb://PREFIX?region=R), which owns it:
// when the driver's key design changes, tables.go follows it.
package cfn
