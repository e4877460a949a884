"""SQS: the queue store (plain Python on the platform clock) and, later, the event source mapping poller."""
