"""Building and running the process: settings, the service container, start-up checks,
the heartbeat, the process lock and logging."""
