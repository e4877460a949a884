"""The SQS event source mapping's driver (the queues themselves are the SQS service's, emulator/services/sqs)."""
