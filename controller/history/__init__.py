"""History: every reading, command, rule transition and alarm recorded to InfluxDB.

The schema (docs/influxdb.md) is in `schema`, the choice of readings worth writing in
`changes`, the HTTP writers in `sinks`, the outage spool in `spool`, the background batching in
`writer`, and the controller extension that ties them together in `extension`.
"""

from controller.history.extension import Historian, history_extension
from controller.history.options import add_history_arguments, history_options
from controller.history.settings import HistoryOptions, HistorySettings

__all__ = [
    "Historian",
    "HistoryOptions",
    "HistorySettings",
    "add_history_arguments",
    "history_extension",
    "history_options",
]
