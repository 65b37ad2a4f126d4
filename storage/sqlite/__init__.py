"""The SQLite engine: one file, one bot process (migrations, search, backup)."""
