"""Root conftest: make the cryorig pytest plugin available from a plain checkout.

When the package is installed, pytest loads the plugin through its ``pytest11``
entry point; from a source tree without installation this registers it instead
(registering it twice would be an error).
"""

from __future__ import annotations

from importlib.metadata import entry_points

if not any(ep.value == "rig.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["rig.plugin"]
