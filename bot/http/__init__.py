"""The bot's own HTTP server: toapis webhooks, /health and /metrics."""
