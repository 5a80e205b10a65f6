"""Logs and metrics: the context a log line carries, its formats, and the Prometheus metrics."""
