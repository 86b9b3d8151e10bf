# The Debian installer's "guided, encrypted LVM" on $1, small: /boot on partition 1, LUKS2 on
# partition 2 (the passphrase in /work/passphrase) opened as vdc2_crypt, holding the volume
# group vg0 with root and swap_1; fstab and crypttab as the installer writes them.
set -e
disk=$1
sfdisk -q $disk <<TABLE
label: gpt
size=64MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
TABLE
mkfs.ext4 -q -L boot ${disk}1
# pbkdf2 with few iterations: argon2's memory and time are too much for a TCG guest
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --label cryptroot --key-file /work/passphrase ${disk}2
cryptsetup open --key-file /work/passphrase ${disk}2 vdc2_crypt
lvm pvcreate -q -y /dev/mapper/vdc2_crypt
lvm vgcreate -q vg0 /dev/mapper/vdc2_crypt
lvm lvcreate -q -y -n swap_1 -L 32M vg0
lvm lvcreate -q -y -n root -l 100%FREE vg0
mkfs.ext4 -q /dev/vg0/root
mkswap /dev/vg0/swap_1 >/dev/null
mkdir -p /source
mount /dev/vg0/root /source
mkdir -p /source/boot /source/etc
mount ${disk}1 /source/boot
cat >/source/etc/fstab <<FSTAB
/dev/mapper/vg0-root / ext4 errors=remount-ro 0 1
UUID=$(blkid -s UUID -o value ${disk}1) /boot ext4 defaults 0 2
/dev/mapper/vg0-swap_1 none swap sw 0 0
FSTAB
echo "vdc2_crypt UUID=$(blkid -s UUID -o value ${disk}2) none luks,discard" >/source/etc/crypttab
echo luks-source >/source/etc/hostname
for place in /source/srv /source/boot/grub; do
    mkdir -p $place
    i=0
    while [ $i -lt 10 ]; do
        dd if=/dev/urandom of=$place/file-$i bs=1k count=$((i * 131 + 1)) 2>/dev/null
        i=$((i + 1))
    done
    ln -s file-3 $place/symlink
    ln $place/file-4 $place/hard-link
    chmod 600 $place/file-5
    chown 1000:1000 $place/file-6
done
umount /source/boot /source
