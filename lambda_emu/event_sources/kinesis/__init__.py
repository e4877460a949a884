"""Kinesis data streams: the stream store (state on the emulator clock) and, later, its event source mapping."""
