# md RAID1 of two disks ($1 and $2), as a Debian installer's software RAID makes it: one
# partition on each, the array /dev/md0 (metadata 1.2) holding / as ext4.
set -e
for disk in $1 $2; do
    sfdisk -q $disk <<TABLE
label: gpt
type=A19D880F-05FC-4D3B-A006-743F0F84911E
TABLE
done
mdadm --create /dev/md0 --run --metadata 1.2 --level raid1 --raid-devices 2 \
    --homehost mirror --name 0 --bitmap none ${1}1 ${2}1 2>/dev/null
mkfs.ext4 -q -L root /dev/md0
mkdir -p /source
mount /dev/md0 /source
mkdir -p /source/etc /source/srv
echo "/dev/md0 / ext4 errors=remount-ro 0 1" >/source/etc/fstab
echo mirror-source >/source/etc/hostname
i=0
while [ $i -lt 12 ]; do
    dd if=/dev/urandom of=/source/srv/file-$i bs=1k count=$((i * 211 + 1)) 2>/dev/null
    i=$((i + 1))
done
ln -s file-3 /source/srv/symlink
ln /source/srv/file-4 /source/srv/hard-link
chown 1000:1000 /source/srv/file-6
umount /source
