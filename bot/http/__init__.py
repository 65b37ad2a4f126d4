"""Running as a service: an HTTP server for toapis webhooks, /health and /metrics."""
