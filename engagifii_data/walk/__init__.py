"""The walks: every page of a listing, then every event's detail, concurrently and resumably.

Nothing here sends HTTP: the client passes fetchers (a page, a detail) that do.

- :mod:`.listing`: one tenant's listing walk (:func:`walk_listing`): plan from page 1, pages 2..P
  concurrently, accepted in order, re-read once if the listing changed, partial frames on failure;
- :mod:`.details`: one tenant's detail walk (:func:`walk_details`): one request per event, 404s
  recorded as missing, merged into the listing frame or returned as rows;
- :mod:`.runner`: one call's tenants: the listing, then the details if asked, tenants concatenated;
- :mod:`.prefetch`: the bounded, ordered window of concurrent requests and the batched frame builder;
- :mod:`.progress`: the progress bar and callback (:class:`WalkProgress`).
"""

from __future__ import annotations

from .details import DetailAnswer, merge_details, unique_ids, walk_details
from .listing import PageFetcher, walk_listing
from .prefetch import BatchedFrames, Prefetcher
from .progress import ProgressArg, ProgressReporter, WalkProgress, in_notebook
from .runner import WalkOptions, concat_tenants, tenant_checkpoint, walk_events, walk_tenant_details

__all__ = [
    "BatchedFrames",
    "DetailAnswer",
    "PageFetcher",
    "Prefetcher",
    "ProgressArg",
    "ProgressReporter",
    "WalkOptions",
    "WalkProgress",
    "concat_tenants",
    "in_notebook",
    "merge_details",
    "tenant_checkpoint",
    "unique_ids",
    "walk_details",
    "walk_events",
    "walk_listing",
    "walk_tenant_details",
]
