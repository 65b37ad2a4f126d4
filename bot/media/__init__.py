"""Media intake: probing, cutting and page downloads, behind address checks."""
