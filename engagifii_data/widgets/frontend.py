"""The widget stack: import ipywidgets when an explorer is built, and say how to install what is missing."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["INSTALL_HINT", "WidgetFrontendWarning", "import_ipywidgets"]

#: How to get the widget stack (ipywidgets, JupyterLab and its widget frontend) into this environment.
INSTALL_HINT = "pip install 'engagifii-data[widgets]' (JupyterLab with the widget frontend: 'engagifii-data[lab]')"


class WidgetFrontendWarning(UserWarning):
    """The JupyterLab widget frontend (jupyterlab_widgets) is not installed beside ipywidgets."""


def import_ipywidgets() -> Any:
    """Import ipywidgets >= 8, or raise ImportError saying how to install it; warn if no frontend.

    Raises
    ------
    ImportError
        ipywidgets is missing or older than 8 (the message names the ``pip install`` to run).
    """
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError(f"EventExplorer needs ipywidgets >= 8, which is not installed: {INSTALL_HINT}") from exc
    version = str(getattr(ipywidgets, "__version__", "0"))
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 8:
        raise ImportError(f"EventExplorer needs ipywidgets >= 8, found {version}: {INSTALL_HINT}")
    try:
        import jupyterlab_widgets  # noqa: F401
    except ImportError:
        warnings.warn(
            "the JupyterLab widget frontend (jupyterlab_widgets) is not installed in this environment: "
            "the explorer may show as plain text instead of controls. Install it where JupyterLab runs: "
            + INSTALL_HINT,
            WidgetFrontendWarning,
            stacklevel=3,  # the caller of EventExplorer(...)
        )
    return ipywidgets
