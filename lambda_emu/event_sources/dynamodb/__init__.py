"""DynamoDB Streams event source mappings (driven by the Kinesis stream driver)."""
