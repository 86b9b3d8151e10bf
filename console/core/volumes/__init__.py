"""The stacks under filesystems: btrfs subvolumes, LVM, md RAID, LUKS; captured, recreated and
resized. Beside the disks in the layers: the set, planning and applying use them. Empty until
that work lands (issues 13, 17)."""
