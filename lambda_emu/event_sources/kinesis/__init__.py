"""The Kinesis event source mapping's driver and retry policy (the streams are the Kinesis service's)."""
