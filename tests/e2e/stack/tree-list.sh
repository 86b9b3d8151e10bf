# One line per entry of the filesystem mounted at $1, sorted: type and mode, owner, and for a
# file its size, mtime, link count and SHA-256, for a symlink its target and mtime (directories
# without mtime and size: the restore adds its records under /var, changing them there).
cd "$1"
find . -xdev ! -path './var*' ! -path './lost+found*' | sort | while read -r f; do
    if [ -L "$f" ]; then
        echo "$f link $(stat -c '%u:%g %Y' "$f") -> $(readlink "$f")"
    elif [ -f "$f" ]; then
        echo "$f file $(stat -c '%a %u:%g %s %Y %h' "$f") $(sha256sum "$f" | cut -d' ' -f1)"
    else
        echo "$f $(stat -c '%F %a %u:%g' "$f")"
    fi
done
