"""EventExplorer: pick a tenant and filters, press one button, watch the walk, preview, chart, export.

``explorer = EventExplorer(client)`` displays the controls; from code: set ``explorer.tenant.value``
(``explorer.details.value = True`` to fetch every event's detail too), ``explorer.fetch_button.click()``,
``explorer.wait()``, then read ``explorer.data`` (the events) or ``explorer.table_data`` (the table the
switch ``explorer.table`` selects: ``"events"``, ``"sessions"`` or ``"contacts"``). ipywidgets is
imported when an explorer is built, never by importing this package. Counts, tables and charts come
from :mod:`engagifii_data.analysis` (``events_by_month``, ``plot_events_by_month`` stay importable here).

Modules: :mod:`.explorer` (the controls, what is shown, progress), :mod:`.fetching` (Fetch, Cancel and
the result kept), :mod:`.exporting` (Export), :mod:`.render` (HTML: status lines, the previews, the
chart), :mod:`.summary` (the words about a walk: progress, summary, partial results), :mod:`.jobs` (one
worker thread at a time), :mod:`.frontend` (importing ipywidgets, the install hint).
"""

from __future__ import annotations

from ..analysis import PREVIEW_COLUMNS, events_by_month, plot_events_by_month
from .explorer import DEFAULT_CHECKPOINT, DEFAULT_EXPORT_PATH, EXPLORER_WORDS, EventExplorer, describe_filters
from .frontend import INSTALL_HINT, WidgetFrontendWarning
from .render import TABLES

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_EXPORT_PATH",
    "EXPLORER_WORDS",
    "INSTALL_HINT",
    "PREVIEW_COLUMNS",
    "TABLES",
    "EventExplorer",
    "WidgetFrontendWarning",
    "describe_filters",
    "events_by_month",
    "plot_events_by_month",
]
