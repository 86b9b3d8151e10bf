"""restore-console: bring a Linux machine back from a backup."""

__version__ = "0.1.0"
