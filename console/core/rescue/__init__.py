"""The rescue system: the initramfs builder and its init. Above everything else in core: it
collects the tools the other packages run. Empty until that work lands (issue 14)."""
