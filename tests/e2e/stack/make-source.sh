# The Debian installer's "separate /home" LVM recipe on $1, small: /boot on partition 1, the
# volume group vg0 on partition 2 with root, swap_1 and home; an fstab naming the LVs by
# their device-mapper paths, as the installer writes it; files of every kind in each.
set -e
disk=$1
sfdisk -q $disk <<TABLE
label: gpt
size=64MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
type=E6D6D379-F507-44C2-A23C-238F2A3DF928
TABLE
mkfs.ext4 -q -L boot ${disk}1
lvm pvcreate -q -y ${disk}2
lvm vgcreate -q vg0 ${disk}2
lvm lvcreate -q -y -n root -L 160M vg0
lvm lvcreate -q -y -n swap_1 -L 32M vg0
lvm lvcreate -q -y -n home -l 100%FREE --addtag backup vg0
mkfs.ext4 -q /dev/vg0/root
mkswap -q /dev/vg0/swap_1 >/dev/null 2>&1 || mkswap /dev/vg0/swap_1 >/dev/null
mkfs.ext4 -q /dev/vg0/home
mkdir -p /source
mount /dev/vg0/root /source
mkdir -p /source/boot /source/home /source/etc
mount ${disk}1 /source/boot
mount /dev/vg0/home /source/home
boot_uuid=$(blkid -s UUID -o value ${disk}1)
cat >/source/etc/fstab <<FSTAB
/dev/mapper/vg0-root / ext4 errors=remount-ro 0 1
UUID=$boot_uuid /boot ext4 defaults 0 2
/dev/mapper/vg0-home /home ext4 defaults 0 2
/dev/mapper/vg0-swap_1 none swap sw 0 0
FSTAB
echo lvm-source >/source/etc/hostname
for place in /source/srv /source/boot/grub /source/home/user; do
    mkdir -p $place
    i=0
    while [ $i -lt 12 ]; do
        dd if=/dev/urandom of=$place/file-$i bs=1k count=$((i * 97 + 1)) 2>/dev/null
        i=$((i + 1))
    done
    ln -s file-3 $place/symlink
    ln $place/file-4 $place/hard-link
    chmod 600 $place/file-5
    chown 1000:1000 $place/file-6
done
dd if=/dev/urandom of=/source/srv/big bs=1M count=16 2>/dev/null
umount /source/home /source/boot /source
