# The listing of / on the array $1 into $2.root, and the array as mdadm reports it.
set -e
mkdir -p /look
mount -o ro $1 /look && sh /work/tree-list.sh /look >$2.root && umount /look
mdadm --detail --export $1 >$2.md-export
grep -E '^MD_(LEVEL|DEVICES|METADATA|UUID|NAME)=' $2.md-export >$2.md
mdadm --detail $1 >$2.md-detail
blkid -p -o export $1 | grep -E '^(TYPE|UUID|LABEL)=' | sort >$2.blkid
cat /sys/class/block/$(basename $(readlink -f $1))/size >$2.size
