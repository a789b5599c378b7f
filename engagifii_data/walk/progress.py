"""Progress of a walk: a tqdm.auto bar with a real total and/or a callback (no HTTP here).

The listing walk reports after every page, the detail walk after every event; both also report every
retry before it waits. :class:`WalkProgress` is what a ``progress`` callable receives.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..transport import RetryNotice

if TYPE_CHECKING:
    from ..pagination import WalkState

__all__ = ["ProgressArg", "ProgressReporter", "WalkProgress", "in_notebook"]


@dataclass(frozen=True)
class WalkProgress:
    """Progress of one walk, passed to a ``progress`` callable after every page (every detail) and before a retry.

    Attributes
    ----------
    tenant : str
    pages_done, pages_total : int
        Pages accepted so far / planned from page 1's total.
    rows, total : int
        Unique rows collected / the total count reported by page 1.
    retrying : RetryNotice or None
        Set when a request is about to be retried (which page, after what, in how many seconds);
        None on a page update.
    phase : {"listing", "details"}
        ``"listing"``: the page walk. ``"details"``: the detail walk (one ``GET /event/{id}`` per
        event), where ``pages_done``/``pages_total`` count detail requests answered / planned,
        ``rows`` the details received and ``total`` the events asked for.
    """

    tenant: str
    pages_done: int
    pages_total: int
    rows: int
    total: int
    retrying: RetryNotice | None = None
    phase: str = "listing"


ProgressArg = bool | Callable[[WalkProgress], None] | None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto draws a widget bar)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class ProgressReporter:
    """A tqdm.auto bar and/or a callback, against the real total (rows).

    Parameters
    ----------
    progress : bool, callable or None
        None: a bar in notebooks and terminals; True/False: force the bar on/off; a callable receives
        a :class:`WalkProgress` after every page (every detail in the detail walk) and before every
        retry.
    tenant : str
        Shown in the bar's label.
    phase : {"listing", "details"}
        Which walk reports (:attr:`WalkProgress.phase`).
    """

    def __init__(self, progress: ProgressArg, tenant: str, phase: str = "listing") -> None:
        self.callback = progress if callable(progress) else None
        self.show = (in_notebook() or sys.stderr.isatty()) if progress is None else progress is True
        self.tenant = tenant
        self.phase = phase
        self.bar: Any = None
        self._last = WalkProgress(tenant, 0, 0, 0, 0, phase=phase)
        self._drawn = 0.0
        self._started = time.time()  # tqdm's clock

    def update(self, state: WalkState) -> None:
        """Report the walk's state after a page was accepted."""
        self.report(len(state.pages_done), state.planned_pages, state.collected, state.total)

    def report(self, done: int, planned: int, rows: int, total: int) -> None:
        """Report ``done`` of ``planned`` requests answered, ``rows`` of ``total`` collected.

        The bar is redrawn at most ten times a second (the detail walk reports once per event), and
        always on the last request; the callback is called every time.
        """
        if self.show:
            if self.bar is None:
                from tqdm.auto import tqdm

                label = "events" if self.phase == "listing" else "details"
                unit = "rows" if self.phase == "listing" else "details"
                self.bar = tqdm(total=total, unit=unit, desc=f"{label} {self.tenant}", leave=True)
                # the bar appears with page 1's total; its rate counts from when the walk started
                self.bar.start_t = self.bar.last_print_t = self._started
            now = time.monotonic()
            if done >= planned or now - self._drawn >= 0.1:
                self._drawn = now
                what = "pages" if self.phase == "listing" else "requests"
                self.bar.set_postfix({what: f"{done}/{planned}"}, refresh=False)
                # update() (not n = rows) keeps tqdm's rate from the time rows really took
                self.bar.update(rows - self.bar.n)
                self.bar.refresh()
        self._last = WalkProgress(self.tenant, done, planned, rows, total, phase=self.phase)
        if self.callback is not None:
            self.callback(self._last)

    def retrying(self, notice: RetryNotice) -> None:
        """Report a retry about to wait (the callback gets the last state plus the notice)."""
        if self.callback is not None:
            self.callback(WalkProgress(**{**self._last.__dict__, "retrying": notice}))

    def close(self) -> None:
        """Close the bar, if one was drawn."""
        if self.bar is not None:
            self.bar.close()
