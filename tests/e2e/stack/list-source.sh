# The listing of each filesystem of $1 (the disk) into $2.{boot,root,home}, and its LVs,
# their UUIDs and the filesystems' UUIDs as LVM and blkid report them (no lsblk in the
# rescue image: the core does not run it).
set -e
mkdir -p /look
mount -o ro ${1}1 /look && sh /work/tree-list.sh /look >$2.boot && umount /look
mount -o ro /dev/vg0/root /look && sh /work/tree-list.sh /look >$2.root && umount /look
mount -o ro /dev/vg0/home /look && sh /work/tree-list.sh /look >$2.home && umount /look
lvm lvs --reportformat json --units b --nosuffix -o lv_name,lv_uuid,lv_size,lv_tags,vg_name,vg_uuid vg0 >$2.lvs
lvm pvs --reportformat json -o pv_name,pv_uuid >$2.pvs
for dev in ${1}1 /dev/vg0/root /dev/vg0/swap_1 /dev/vg0/home; do
    echo "$dev $(blkid -p -o export $dev | grep -E '^(TYPE|UUID|LABEL)=' | sort | tr '\n' ' ')"
done >$2.blkid
