"""Providers: the interface every video service implements, and toapis."""
