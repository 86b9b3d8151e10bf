# Two commands for a newcomer on Debian: `make demo` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
APT_PACKAGES := e2fsprogs xfsprogs dosfstools btrfs-progs util-linux fdisk parted libparted-dev \
	pkg-config gcc libc6-dev zstd tar xorriso mt-st rsync attr acl kmod mount \
	qemu-system-x86 ovmf linux-image-amd64 busybox-static cpio socat grub-common grub-pc-bin \
	grub-efi-amd64-bin mtools debootstrap efibootmgr squashfs-tools python3 binutils \
	nfs-ganesha nfs-ganesha-vfs dnsmasq-base ipxe lvm2 mdadm cryptsetup-bin tgt qemu-block-extra
PYTEST_ARGS ?=

.PHONY: deps venv demo test test-unit bench clean

# Installs the Debian packages that are missing (needs root; apt-get update only when needed).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then echo "Run as root (or install: $$missing)"; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

venv: deps $(STAMP)

demo: venv
	$(VENV)/bin/restore-console --demo

test: venv
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(VENV)/bin/python -m pytest -m "not system and not e2e" $(PYTEST_ARGS)

bench: venv
	$(VENV)/bin/python bench/run.py
	$(VENV)/bin/python bench/partial.py
	$(VENV)/bin/python bench/startup.py
	$(VENV)/bin/python bench/tape.py
	$(VENV)/bin/python bench/iso.py
	$(VENV)/bin/python bench/boot.py
	$(VENV)/bin/python bench/rescue_boot.py
	$(VENV)/bin/python bench/rescue_size.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
