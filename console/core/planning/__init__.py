"""From a set and this machine's disks to a plan, without touching a disk: the mapping of
original disks onto targets, the resize of their layouts, and the plan's typed steps."""
