"""``python -m engagifii_data.cli``: the same as the ``engagifii-data`` command."""

from . import run

run()
