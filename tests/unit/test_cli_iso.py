"""The ISO options of the command line: what is typed wrong is said before anything is done."""

import subprocess
import sys


def cli(*args):
    return subprocess.run([sys.executable, "-m", "console", "--log", "/dev/null", *args],
                          capture_output=True, text=True)


def test_iso_needs_a_volume_size_and_a_valid_one(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    proc = cli("backup", "--disk", str(disk), "--iso", str(tmp_path / "discs"))
    assert proc.returncode == 2
    assert "--iso needs --volume-size: cd, dvd or a size." in proc.stderr
    for size in ("floppy", "100K"):
        proc = cli("backup", "--disk", str(disk), "--iso", str(tmp_path / "discs"),
                   "--volume-size", size)
        assert proc.returncode == 2, size
        assert f"--volume-size {size} is not cd, dvd or a size of at least 1 MiB." in proc.stderr
    assert not (tmp_path / "discs").exists()


def test_iso_options_without_iso_are_refused(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    proc = cli("backup", "--disk", str(disk), "--to", str(tmp_path / "set"),
               "--volume-size", "cd")
    assert proc.returncode == 2
    assert "--volume-size and --rescue go with --iso." in proc.stderr
    proc = cli("backup", "--disk", str(disk), "--to", str(tmp_path / "set"),
               "--iso", str(tmp_path / "discs"), "--volume-size", "cd")
    assert proc.returncode == 2
    assert "(one)" in proc.stderr
    assert not (tmp_path / "set").exists() and not (tmp_path / "discs").exists()


def test_a_staging_directory_that_is_not_there_is_refused_in_words(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    proc = cli("backup", "--disk", str(disk), "--iso", str(tmp_path / "discs"),
               "--volume-size", "cd", "--staging", str(tmp_path / "nowhere"))
    assert proc.returncode == 2, proc.stderr
    assert f"--staging {tmp_path / 'nowhere'} is not a directory." in proc.stderr
    assert "unexpected" not in proc.stderr and not (tmp_path / "discs").exists()


def test_a_rescue_directory_without_a_kernel_is_refused(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    (tmp_path / "rescue").mkdir()
    (tmp_path / "rescue/initrd.img").write_bytes(b"070701")
    proc = cli("backup", "--disk", str(disk), "--iso", str(tmp_path / "discs"),
               "--volume-size", "cd", "--rescue", str(tmp_path / "rescue"))
    assert proc.returncode == 2
    assert f"--rescue {tmp_path / 'rescue'} has no vmlinuz." in proc.stderr
    assert "mkrescue --to DIR" in proc.stderr


def test_an_iso_without_a_set_is_said_in_words(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "README").write_text("not a set\n")
    iso = tmp_path / "other.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "SOMETHING", "-o", str(iso),
                    str(tree)], check=True, capture_output=True)
    proc = cli("inspect", str(iso))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{iso} is an ISO volume labelled 'SOMETHING' that holds no restore-console set." \
        in proc.stderr
