"""Who may spend and what is kept: server settings, owner controls, spending limits,
usage, retention, export and import."""
