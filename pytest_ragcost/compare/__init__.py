"""Comparing a run with its budget: verdict rules, pure statistics and pricing."""
