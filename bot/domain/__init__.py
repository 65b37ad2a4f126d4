"""What every layer talks in: jobs, characters, their states, clip ranges, change notices."""
