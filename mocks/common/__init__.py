"""Shared plumbing of the mock servers."""
