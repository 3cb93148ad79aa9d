"""Operating golive: Prometheus metrics and JSON logs."""
