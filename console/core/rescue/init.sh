#!/bin/sh
# The rescue system's init (restore-console mkrescue): the boot order, top to bottom, each stage
# announcing itself as "restore-console: <stage>" on the console. The kernel command line options
# are in the README ("The rescue system"). Whatever fails says so and what to do; a shell is
# always reachable, and this script never ends (it is PID 1).

export PATH=/usr/sbin:/usr/bin HOME=/root
MEDIA=/media/set          # where the media holding the set is mounted, read-only
TOOLS=/run/rescue-tools   # the squashfs of the tools kept on the media (--tools-on-media)
TOOLS_IMAGE=restore-tools.squashfs
LOG=/run/restore-console/init.log
# A serial line reports no size: 80x24, what every terminal on it can show.
SERIAL_SIZE='case "$(stty size 2>/dev/null)" in ""|"0 0") stty rows 24 cols 80 ;; esac'

say() { echo "restore-console: $*"; echo "$*" >>$LOG; }
# The fact, then what to do; then a shell, left with exit to go on booting.
fail() {
    say "$1"
    echo "  $2"
    echo "  A shell follows; 'exit' goes on with the boot."
    on_tty "exec sh -l" $PRIMARY
}

# The value of option $1 (restore, restore.media ...) on the kernel command line, else $2.
arg() {
    for word in $(cat /proc/cmdline); do
        case "$word" in "$1="*) echo "${word#*=}"; return ;; esac
    done
    echo "$2"
}

stage_mount() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts
    mount -t devpts devpts /dev/pts
    mount -t tmpfs -o mode=0755 tmpfs /run
    dmesg -n 1  # kernel messages would draw over the console; dmesg keeps them
    mkdir -p /run/restore-console $MEDIA $TOOLS
    say "mounted proc, sys, dev, run"
}

stage_essential_modules() {
    # Disk, CD and USB controllers, and the filesystems a set can be on.
    for module in virtio_pci virtio_blk virtio_scsi ahci ata_piix nvme sd_mod sr_mod \
            usb_storage uas xhci_pci ehci_pci ohci_pci uhci_hcd usbhid hid_generic \
            isofs udf ext4 xfs btrfs vfat nls_cp437 nls_iso8859_1 nls_ascii nls_utf8 squashfs \
            loop st efivarfs; do
        modprobe -q $module
    done
    # No udev here to ask the kernel to look at the drives: the kernel polls them itself every
    # 2 s (its default is never), so a disc put in sends a uevent the console's hot-plug hears.
    echo 2000 >/sys/module/block/parameters/events_dfl_poll_msecs 2>/dev/null
    say "inserted the essential modules"
}

# The set's directory below a mounted media root, if it is there.
set_below() {
    dir="$1/${SET_ON_MEDIA#/}"
    [ -f "$dir/manifest.json" ] && echo "${dir%/}"
}

# $1 mounted read-only on $2, its journal or log not replayed: the disk may be one the restore
# writes to, which must stay as it was until the plan is confirmed.
mount_read_only() {
    type=$(blkid "$1" 2>/dev/null | sed -n 's/.* TYPE="\([^"]*\)".*/\1/p')
    case "$type" in
        "") return 1 ;;
        ext3|ext4) options=ro,noload ;;
        xfs) options=ro,norecovery ;;
        btrfs) options=ro,rescue=nologreplay ;;
        *) options=ro ;;
    esac
    mount -t "$type" -o "$options" "$1" "$2" 2>/dev/null
}

# Each partition, then each whole disk, read-only, until one holds the set (drives in $1).
find_set_on_block_devices() {
    for dev in $(ls /sys/class/block); do
        case "$dev" in loop*|ram*|zram*|dm-*|md*) continue ;; esac
        [ -d /sys/class/block/$dev/holders ] && [ -n "$(ls /sys/class/block/$dev/holders)" ] \
            && continue
        case "$1" in cd) case "$dev" in sr*) ;; *) continue ;; esac ;; esac
        [ "$(cat /sys/class/block/$dev/size)" != 0 ] || continue  # an empty drive
        if mount_read_only /dev/$dev $MEDIA; then
            found=$(set_below $MEDIA)
            if [ -n "$found" ]; then
                MEDIA_DEVICE=/dev/$dev SET=$found
                return 0
            fi
            umount $MEDIA
        fi
    done
    return 1
}

network_up() {
    coldplug
    ip link set lo up
    ipconf=$(arg ip dhcp)
    case "$ipconf" in
        dhcp|on|any|"")
            for iface in $(ls /sys/class/net); do
                [ "$iface" = lo ] && continue
                ip link set "$iface" up
                udhcpc -i "$iface" -n -q -t 5 -s /usr/share/udhcpc/default.script && return 0
            done
            return 1 ;;
        *)  # ip=ADDRESS::GATEWAY:NETMASK::INTERFACE (the kernel's form; other fields unused)
            IFS=: read -r address _ gateway netmask _ iface _ <<EOT
$ipconf
EOT
            iface=${iface:-eth0}
            ip link set "$iface" up
            ip addr add "$address/$netmask" dev "$iface" || return 1
            [ -n "$gateway" ] && ip route add default via "$gateway"
            return 0 ;;
    esac
}

# A fleet boots the same rescue system: machines of the same name are one NFS 4 client to the
# server, and each one's mount would expire the state (opens, locks) of the others. A random
# identity of this boot, in the kernel's place for it (5.17 on) or its older module option.
unique_nfs_client() {
    for place in /sys/fs/nfs/net/nfs_client/identifier /sys/module/nfs/parameters/nfs4_unique_id; do
        if [ -w $place ]; then
            case "$(cat $place)" in ""|"(null)") cat /proc/sys/kernel/random/uuid >$place ;; esac
            return
        fi
    done
}

media_nfs() {
    share=$(arg restore.nfs "")
    [ -n "$share" ] || { echo "no restore.nfs=SERVER:/PATH on the command line"; return 1; }
    network_up || { echo "the network did not come up (DHCP or ip=)"; return 1; }
    modprobe -q nfsv3
    modprobe -q nfsv4
    unique_nfs_client
    given=
    case "$share" in *,*) given=",${share#*,}"; share=${share%%,*} ;; esac
    # No mount.nfs helper here: the kernel's own NFS mount wants the server's address.
    server=${share%%:*}
    case "$server" in
        *[!0-9.]*) address=$(nslookup "$server" 2>/dev/null |
                             awk '/^Name:/ { named = 1 } named && /^Address/ { print $NF; exit }') ;;
        *) address=$server ;;
    esac
    [ -n "$address" ] || { echo "the name $server does not resolve (DNS from DHCP)"; return 1; }
    # NFS 4 first, then 3 with nolock over TCP (no lock daemon here); a vers= given is kept.
    case "$given" in
        *vers=*) tries="nfs:ro$given" ;;
        *) tries="nfs4:ro,vers=4$given nfs:ro,vers=3,nolock,proto=tcp,mountproto=tcp$given" ;;
    esac
    for try in $tries; do
        mount -t "${try%%:*}" -o "${try#*:},addr=$address" "$share" $MEDIA && break
    done
    mounted $MEDIA || { echo "mounting $share failed (NFS 4 and 3)"; return 1; }
    MEDIA_DEVICE=$share SET=$(set_below $MEDIA)
    [ -n "$SET" ] || { echo "$share has no manifest.json at ${SET_ON_MEDIA:-its root}"; return 1; }
}

media_tape() {
    # The console reads the tape itself (SET is the tape device).
    MEDIA_DEVICE=$(arg restore.tape /dev/nst0) SET=$MEDIA_DEVICE
    [ -c "$SET" ] || { echo "there is no tape device $SET"; return 1; }
}

# Disks and USB sticks come up some seconds after their driver: looked for again while waiting.
media_on_block_devices() {
    for second in 1 2 3 4 5 6 7 8 9 10; do
        find_set_on_block_devices "$1" && return 0
        sleep 1
    done
    echo "no ${1:-disk, partition or CD} holds manifest.json at ${SET_ON_MEDIA:-its root}"
    return 1
}

stage_media() {
    case "$MEDIA_KIND" in
        disk) why=$(media_on_block_devices disk) ;;
        cd) why=$(media_on_block_devices cd) ;;
        nfs) why=$(media_nfs) ;;
        tape) why=$(media_tape) ;;
        auto)
            if [ -n "$(arg restore.nfs '')" ]; then why=$(media_nfs)
            elif [ -n "$(arg restore.tape '')" ]; then why=$(media_tape)
            else why=$(media_on_block_devices ""); fi ;;
        *) why="restore.media=$MEDIA_KIND is not one of auto, cd, tape, nfs, disk" ;;
    esac
    # The functions ran in a subshell for $(...): what they found is read back from the mount.
    media_found
    if [ -n "$SET" ]; then
        say "found the set $SET on $MEDIA_DEVICE"
    else
        fail "no backup set found ($MEDIA_KIND): $why" \
             "Mount the media on $MEDIA by hand, or give restore.media and restore.set on the kernel command line; the console then asks for the set."
        media_found
    fi
}

# SET and MEDIA_DEVICE from what is mounted on $MEDIA (the search ran in a subshell).
media_found() {
    SET= MEDIA_DEVICE=
    case "$MEDIA_KIND" in
        tape) MEDIA_DEVICE=$(arg restore.tape /dev/nst0); [ -c "$MEDIA_DEVICE" ] && SET=$MEDIA_DEVICE
              return ;;
        auto) if [ -n "$(arg restore.tape '')" ]; then
                  MEDIA_DEVICE=$(arg restore.tape ''); [ -c "$MEDIA_DEVICE" ] && SET=$MEDIA_DEVICE
                  return
              fi ;;
    esac
    MEDIA_DEVICE=$(awk -v m=$MEDIA '$2 == m { print $1 }' /proc/mounts | tail -n 1)
    [ -n "$MEDIA_DEVICE" ] && SET=$(set_below $MEDIA)
    # A volume of a set on ISO volumes (CD/DVD): the console reads the drive itself, disc after
    # disc, so it is not kept mounted (a mounted disc cannot be ejected).
    if [ -n "$SET" ] && [ -f "$SET/restore-console-volume.json" ] && [ -b "$MEDIA_DEVICE" ]; then
        umount $MEDIA && SET=$MEDIA_DEVICE
    fi
}

stage_tools() {
    if [ -x /usr/bin/python3 ]; then
        say "the tools are in the initrd"
        return
    fi
    for root in $MEDIA $(awk '{print $2}' /proc/mounts); do
        if [ -f "$root/$TOOLS_IMAGE" ]; then
            mount -t squashfs -o ro "$root/$TOOLS_IMAGE" $TOOLS && break
        fi
    done
    if ! mounted $TOOLS; then
        # The image also sits beside the kernel on a rescue CD or stick: looked for there.
        for dev in $(ls /sys/class/block); do
            mount_read_only /dev/$dev /mnt || continue
            [ -f /mnt/$TOOLS_IMAGE ] && mount -t squashfs -o ro /mnt/$TOOLS_IMAGE $TOOLS && break
            umount /mnt
        done
    fi
    if mounted $TOOLS; then
        # Over busybox's applets of the same names: the links go first (cp would write through).
        (cd $TOOLS && find . ! -type d) | while read -r file; do rm -f "/$file"; done
        cp -a $TOOLS/. / && ldconfig
        say "loaded the tools from $TOOLS_IMAGE"
    else
        fail "the tools ($TOOLS_IMAGE) are not in the initrd and not on the media" \
             "Put $TOOLS_IMAGE (written by mkrescue --tools-on-media) at the root of the media, then reboot."
    fi
}

mounted() {
    awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

coldplug() {
    find /sys/devices -name modalias -type f -exec cat {} + 2>/dev/null | sort -u |
        xargs modprobe -qab 2>/dev/null
}

stage_hardware_modules() {
    coldplug
    # No hardware asks for these: LVM and LUKS need device-mapper, md arrays md_mod.
    for module in dm_mod dm_crypt xts algif_skcipher md_mod raid1; do modprobe -q $module; done
    say "inserted the modules the hardware needs ($(wc -l </proc/modules) loaded)"
}

# The kernel's console devices: every console= of the command line; the last is /dev/console.
console_devices() {
    devices=
    for word in $(cat /proc/cmdline); do
        case "$word" in console=*) device=${word#console=}; device=${device%%,*} ;; *) continue ;; esac
        # tty0 is whichever VT is in front: the console takes the first one.
        [ "$device" = tty0 ] && device=tty1
        devices="$devices $device"
    done
    echo ${devices:-tty1}
}

term_of() {
    case "$1" in ttyS*|ttyAMA*|hvc*) echo vt220 ;; *) echo linux ;; esac
}

# $1 runs on /dev/$2 as its controlling terminal, in a session of its own.
on_tty() {
    TERM=$(term_of $2) setsid -c sh -c "$1" </dev/$2 >/dev/$2 2>&1
}

# The other console devices offer a shell (the console itself runs on one only).
other_consoles() {
    for tty in $(console_devices); do
        [ "$tty" = "$PRIMARY" ] && continue
        ( while true; do
            on_tty 'echo; echo "restore-console: the console runs on '"$PRIMARY"'; press Enter for a shell here."; read _; exec sh -l' $tty
          done ) &
    done
}

console_command() {
    set -- restore-console
    [ -n "$SET" ] && set -- "$@" --set "$SET"
    echo "$@"
}

# restore.plan is a path on the media unless it starts with /; restore.after reboots or powers
# off once the restore succeeded (nuke mode does it itself, so the log is written first).
nuke_command() {
    set -- restore-console --nuke
    [ -n "$SET" ] && set -- "$@" --set "$SET"
    plan=$(arg restore.plan "")
    case "$plan" in "") ;; /*) set -- "$@" --plan "$plan" ;; *) set -- "$@" --plan "$MEDIA/$plan" ;; esac
    case "$(arg restore.after "")" in
        reboot|poweroff|shell) set -- "$@" --after "$(arg restore.after "")" ;;
    esac
    wait=$(arg restore.volume_wait "")
    [ -n "$wait" ] && set -- "$@" --volume-wait "$wait"
    secret=$(arg restore.passphrase_file "")
    case "$secret" in "") ;; /*) set -- "$@" --passphrase-file "$secret" ;;
        *) set -- "$@" --passphrase-file "$MEDIA/$secret" ;; esac
    echo "$@"
}

start_console() {
    say "starting the console ($MODE) on $PRIMARY"
    case "$MODE" in
        interactive) on_tty "$SERIAL_SIZE; $(console_command)" $PRIMARY ;;
        expert)
            echo "restore-console: expert mode: a shell; the console is '$(console_command)'."
            on_tty "$SERIAL_SIZE; exec sh -l" $PRIMARY ;;
        nuke)
            # Unattended; plain lines on the console. After a failure the loop below asks.
            on_tty "$SERIAL_SIZE; $(nuke_command)" $PRIMARY ;;
        *)
            say "restore=$MODE is not one of interactive, nuke, expert"
            echo "  Starting a shell; run restore-console from it."
            on_tty "exec sh -l" $PRIMARY ;;
    esac
}

after_console() {
    choice=$(arg restore.after "")
    if [ "$MODE" = nuke ]; then
        # Nuke mode did restore.after itself when it succeeded; here it failed (or its shell
        # ended): the operator reads why and chooses, and "console" is the interactive one.
        choice= MODE=interactive
    fi
    while true; do
        if [ -z "$choice" ]; then
            echo
            echo "restore-console: the console has ended. [c]onsole again, [s]hell, [r]eboot, [p]ower off?"
            read -r choice </dev/$PRIMARY || choice=s
        fi
        case "$choice" in
            c*) start_console ;;
            s*) on_tty "exec sh -l" $PRIMARY ;;
            r*) say "rebooting"; sync; reboot -f ;;
            p*) say "powering off"; sync; poweroff -f ;;
        esac
        choice=
    done
}

stage_mount
MODE=$(arg restore interactive)
MEDIA_KIND=$(arg restore.media auto)
SET_ON_MEDIA=$(arg restore.set "")
PRIMARY=$(console_devices | awk '{print $NF}')
[ -c /dev/$PRIMARY ] || PRIMARY=console
stage_essential_modules
stage_media
stage_tools
stage_hardware_modules
other_consoles
start_console
after_console
