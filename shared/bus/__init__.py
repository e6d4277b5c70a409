"""Kafka plumbing: CloudEvents codec, typed producer and consumer, topics, DLQ."""
