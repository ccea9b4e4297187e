"""The SLA report: throughput, durations and where instances wait, per
definition and version over a window of days (docs/operations.md, "SLA report")."""
