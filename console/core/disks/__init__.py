"""This machine's disks: sysfs and block devices, discovery, probing, partition tables, mkfs,
write-back, and the safety checks that stand before every write."""
