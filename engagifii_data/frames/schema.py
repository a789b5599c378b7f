"""The declared columns of an events frame and their dtypes.

Source: [docs] = the vendor's data-models page, [wire] = observed from the live service.

Column table
------------
The declared columns come first, always in this order and always with this dtype (``EVENT_COLUMNS``);
a leading ``tenant`` column (``string``) is added only when a ``tenant`` is given. Source: [docs] = the
vendor's data-models page, [wire] = observed from the live service.

=============================  ======================  ==========================================
column                         dtype                   source / notes
=============================  ======================  ==========================================
tenant (only when given)       string                  the tenant code the rows were fetched for
id                             string                  [docs] GUID, lowercase
name                           string                  [docs] <= 500 chars
description                    string                  [docs] may contain line breaks / HTML
eventStatus                    string                  [docs] Draft | Published | Cancelled | ...
eventRegistrationState         string                  [docs][wire] RegistrationClosed, ...
eventType                      string                  [docs]
eventTypeId                    string                  [docs] GUID
startDateTime                  datetime64[ns, UTC]     [docs] see "Datetimes" below
endDateTime                    datetime64[ns, UTC]     [docs]
timeZone                       string                  [wire] Windows or IANA zone name
registrationStartFrom          datetime64[ns, UTC]     [docs]
registrationEndDate            datetime64[ns, UTC]     [docs]
isRegistrationAllowed          boolean                 [docs]
isFreeEvent                    boolean                 [docs]
defaultPrice                   Float64                 [docs] decimal(18,2), currency units
pricingFramework               string                  [docs]
registrantsCapacity            Int64                   [docs] count of people
availableRegistrantsCapacity   Int64                   [docs] count of people
attendeesCount                 Int64                   [wire] count of people
eventWithClass                 boolean                 [docs]
eventWithExhibitor             boolean                 [docs]
isFavourite                    boolean                 [docs]
location.name                  string                  [docs] ``location`` object, flattened
location.addressLine           string                  [docs]
location.city                  string                  [docs]
location.state                 string                  [docs]
location.zip                   string                  [docs] text: keeps leading zeros
location.country               string                  [docs]
location.latitude              Float64                 [docs] decimal degrees
location.longitude             Float64                 [docs] decimal degrees
tags                           object (list[str])      [wire]
eventDates                     object (list[dict])     [docs][wire] sessions, kept as raw dicts
eventClasses                   object (list[str])      [docs] GUIDs
eventBundles                   object (list[str])      [docs] GUIDs
contacts.regular               object (list)           [docs] ``contacts`` object, flattened
contacts.finance               object (list)           [docs]
contacts.exhibitor             object (list)           [docs]
registrationWorkflows          object (list)           [wire]
iconUrl                        string                  [docs]
imageUrl                       string                  [wire] sent instead of ``iconUrl``
createdOn                      datetime64[ns, UTC]     [wire]
createdBy.name                 string                  [wire] ``createdBy`` object, flattened
createdBy.imageThumbUrl        string                  [wire]
naiveDateTimes                 object (list[str])      made here, not sent: see "Unknown time zones"
=============================  ======================  ==========================================

Columns the listing never carries
---------------------------------
``contacts.regular``, ``contacts.finance`` and ``contacts.exhibitor`` are declared (the data-models
page lists ``contacts`` on ``EventViewModel``), but the listing (``POST /api/1.0/event/list``) leaves
``contacts`` out: in frames and reports made from the listing they are always NA. The event detail
(``GET /api/1.0/event/{id}``) carries them.

Unknown time zones
------------------
A naive wall-clock datetime (no ``Z``, no offset) whose row has no recognised ``timeZone`` cannot be
turned into an instant. Its column keeps the wall-clock digits as if they were UTC (a
``datetime64[ns, UTC]`` column cannot hold anything else), and the row's ``naiveDateTimes`` cell
names that column: ``naiveDateTimes`` is a list of the datetime column names of the row holding such a
value (in table order), or None when the row has none. Being an ordinary column, it stays right
through filtering, sorting, ``concat`` and column selection that keeps it. It is the one mark the
report writers read: CSV writes those cells without ``Z`` (``2023-04-26T13:00:00.000000``), Excel as a
wall-clock time formatted ``(zone unknown)`` and never shifted to the report's zone, Parquet keeps the
column; :func:`~engagifii_data.reports.read_report` restores it. A record field the API itself calls
``naiveDateTimes`` is kept as ``record.naiveDateTimes``. ``df.attrs["engagifii_naive_datetimes"]``
still counts such values per column.

Rules
-----
* **Missing / null**: a missing key or JSON ``null`` gives NA (``<NA>`` / ``NaT``); a null object
  (``"location": null``) gives NA in every one of its flattened columns. An empty input gives zero rows
  with the same columns and dtypes.
* **Flattening**: nested objects are flattened with ``.`` like :func:`pandas.json_normalize`; lists are
  never exploded.
* **Lists** (``LIST_COLUMNS``) are kept as Python ``list`` objects (a copy of the wire list) in
  ``object`` columns. A missing or null list is NA (``None``), never ``[]``: "not sent" and "sent
  empty" stay distinguishable. A JSON tuple-like value is turned into a list; one object where a list
  is declared (``"eventDates": {...}``) is a list of one, never flattened; any other value (text, a
  number) is kept readable as a list of one and counted as coerced (``values.to_list``).
* **Unknown fields** (not declared) are passed through after the declared columns, in order of first
  appearance, as ``object`` columns holding the raw JSON values (``None`` where absent). Nested unknown
  objects are flattened like the declared ones. A record field literally named ``tenant`` while a
  ``tenant`` argument is given is kept as ``record.tenant``.
* **Coercion**: text columns accept any scalar (numbers and booleans become their JSON text, objects
  their compact JSON). A value that does not fit a typed column (``"abc"`` in a count, ``3.5`` in a
  count, ``"maybe"`` in a flag, an unparseable date) becomes NA and is
  counted in ``df.attrs["engagifii_coerced"]`` (``{column: count}``, non-zero entries only). Flags
  accept JSON booleans, the strings ``"true"``/``"false"`` (any case; the live plugin sends strings) and
  ``0``/``1``; counts accept integers, integral floats and integer strings; money/coordinates accept
  numbers and numeric strings.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

# --------------------------------------------------------------------------------------------------
# The declared table
# --------------------------------------------------------------------------------------------------

STRING: Final = "string"
BOOLEAN: Final = "boolean"
INT64: Final = "Int64"
FLOAT64: Final = "Float64"
DATETIME_UTC: Final = "datetime64[ns, UTC]"
OBJECT: Final = "object"

#: Declared column -> dtype string, in the fixed output order (see the module docstring's table).
EVENT_COLUMNS: dict[str, str] = {
    "id": STRING,
    "name": STRING,
    "description": STRING,
    "eventStatus": STRING,
    "eventRegistrationState": STRING,
    "eventType": STRING,
    "eventTypeId": STRING,
    "startDateTime": DATETIME_UTC,
    "endDateTime": DATETIME_UTC,
    "timeZone": STRING,
    "registrationStartFrom": DATETIME_UTC,
    "registrationEndDate": DATETIME_UTC,
    "isRegistrationAllowed": BOOLEAN,
    "isFreeEvent": BOOLEAN,
    "defaultPrice": FLOAT64,
    "pricingFramework": STRING,
    "registrantsCapacity": INT64,
    "availableRegistrantsCapacity": INT64,
    "attendeesCount": INT64,
    "eventWithClass": BOOLEAN,
    "eventWithExhibitor": BOOLEAN,
    "isFavourite": BOOLEAN,
    "location.name": STRING,
    "location.addressLine": STRING,
    "location.city": STRING,
    "location.state": STRING,
    "location.zip": STRING,
    "location.country": STRING,
    "location.latitude": FLOAT64,
    "location.longitude": FLOAT64,
    "tags": OBJECT,
    "eventDates": OBJECT,
    "eventClasses": OBJECT,
    "eventBundles": OBJECT,
    "contacts.regular": OBJECT,
    "contacts.finance": OBJECT,
    "contacts.exhibitor": OBJECT,
    "registrationWorkflows": OBJECT,
    "iconUrl": STRING,
    "imageUrl": STRING,
    "createdOn": DATETIME_UTC,
    "createdBy.name": STRING,
    "createdBy.imageThumbUrl": STRING,
    "naiveDateTimes": OBJECT,
}

#: The declared column made by the frame builder, not read from the wire (see "Unknown time zones").
NAIVE_COLUMN: Final = "naiveDateTimes"
#: Declared columns read from the wire: every declared column but :data:`NAIVE_COLUMN`.
WIRE_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in EVENT_COLUMNS if c != NAIVE_COLUMN)

#: Declared columns of dtype ``datetime64[ns, UTC]``, in table order.
DATETIME_COLUMNS: tuple[str, ...] = tuple(c for c, t in EVENT_COLUMNS.items() if t == DATETIME_UTC)

#: Declared columns holding Python lists (``object`` dtype), in table order.
LIST_COLUMNS: tuple[str, ...] = tuple(c for c, t in EVENT_COLUMNS.items() if t == OBJECT)

#: List columns whose elements are text (GUIDs, tag names): Parquet ``list<string>``. The other list
#: columns hold objects of no published shape and are stored in Parquet as compact JSON text.
STRING_LIST_COLUMNS: Final[frozenset[str]] = frozenset({"tags", "eventClasses", "eventBundles", NAIVE_COLUMN})


#: ``df.attrs`` key: ``{column: number of non-null values that did not fit and became NA}``.
COERCED_ATTR: Final = "engagifii_coerced"
#: ``df.attrs`` key: ``{column: number of naive datetimes with no known zone}`` (their digits are kept
#: as if UTC and the row's :data:`NAIVE_COLUMN` names the column).
NAIVE_DATETIMES_ATTR: Final = "engagifii_naive_datetimes"

TENANT_COLUMN: Final = "tenant"
TZ_COLUMN: Final = "timeZone"
STRING_DTYPE: Final = pd.StringDtype()

#: Top-level object fields whose null value means "all of my flattened columns are NA".
OBJECT_PREFIXES: Final[frozenset[str]] = frozenset(c.split(".", 1)[0] for c in EVENT_COLUMNS if "." in c)
