"""Reusable Textual widgets for restore-console: display only, no I/O."""
