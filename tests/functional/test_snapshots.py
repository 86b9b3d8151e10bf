"""SVG snapshots of every screen at 80x24 and 120x40, and with the Linux-console theme.

They are kept in snapshots/test_snapshots/ at the repository root (tests/conftest.py says so).
After a deliberate change of a screen: pytest tests/functional/test_snapshots.py
--snapshot-update, then look at the new SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tests.functional.scenes import SCENES

VARIANTS = {
    "80x24": ("textual-dark", (80, 24)),
    "120x40": ("textual-dark", (120, 40)),
    "linux-console-80x24": ("linux-console", (80, 24)),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scene", SCENES)
def test_screen(scene, variant, snap_compare):
    make_app, reach = SCENES[scene]
    theme, size = VARIANTS[variant]
    app = make_app(theme)
    try:
        assert snap_compare(app, terminal_size=size, run_before=reach)
    finally:
        for screen in app.screen_stack:  # a held scripted restore ends with the app
            if hasattr(screen, "cancel_requested"):
                screen.cancel_requested.set()
