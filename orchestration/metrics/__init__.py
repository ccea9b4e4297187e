"""The engine's metrics for Prometheus (docs/operations.md, "Metrics").

Counters and histograms are folded from the sealed audit log by one side sweep
(`fold.py`) into MetricSample rows; gauges (queues, open tasks, live instances,
heartbeats) are read from the engine's tables when scraped (`collector.py`).
Both come from the database, so every web process and every host answers the
same numbers, whatever process did the work."""
