"""restore-core must stay free of UI imports: the TUI, the CLI and nuke mode all drive it."""

import pkgutil
import subprocess
import sys

import console.core


def test_importing_every_core_module_loads_no_ui_library():
    modules = [m.name for m in pkgutil.walk_packages(console.core.__path__, "console.core.")]
    assert "console.core.applying.restore" in modules  # the walk found the package's modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_the_check_would_notice_a_ui_import():
    code = "import textual.app, sys; print('textual' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "True"
