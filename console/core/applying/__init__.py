"""Carrying a plan out: the restore and its journal, verification, and restores of selected
files into a directory or in place."""
