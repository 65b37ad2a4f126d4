"""The command line: the bot itself, admin, console, demo and doctor."""
