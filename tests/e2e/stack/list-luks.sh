# The listing of /boot and / of the encrypted layout on $1 into $2.{boot,root}, the LUKS header
# (blkid and its LUKS2 JSON metadata), the LVs and the PV. The container is opened with
# /work/passphrase as vdc2_crypt when it is not open.
set -e
[ -e /dev/mapper/vdc2_crypt ] || cryptsetup open --key-file /work/passphrase ${1}2 vdc2_crypt
lvm vgchange -q -ay vg0
mkdir -p /look
mount -o ro ${1}1 /look && sh /work/tree-list.sh /look >$2.boot && umount /look
mount -o ro /dev/vg0/root /look && sh /work/tree-list.sh /look >$2.root && umount /look
blkid -p -o export ${1}2 | grep -E '^(TYPE|UUID|LABEL|VERSION)=' | sort >$2.luks-blkid
cryptsetup luksDump --dump-json-metadata ${1}2 >$2.luks-json
lvm lvs --reportformat json --units b --nosuffix -o lv_name,lv_uuid,lv_size,lv_tags,vg_name,vg_uuid vg0 >$2.lvs
lvm pvs --reportformat json -o pv_name,pv_uuid >$2.pvs
for dev in ${1}1 /dev/vg0/root /dev/vg0/swap_1; do
    echo "$dev $(blkid -p -o export $dev | grep -E '^(TYPE|UUID|LABEL)=' | sort | tr '\n' ' ')"
done >$2.blkid
lvm vgchange -q -an vg0
cryptsetup close vdc2_crypt
