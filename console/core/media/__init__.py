"""Where sets are read from and written to: directories, ISO volumes, tapes, NFS shares.
Below the set in the layers: a set is read through its medium. Empty until the media work
lands (issue 15)."""
