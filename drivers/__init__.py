"""Drivers: the controller's side of the outside world (MQTT, serial lines, Home Assistant).

Each driver turns device traffic into `campus.types.Reading`s and `campus.types.Command`s into
device traffic. Drivers import `campus` only, never `rules`, `controller` or `simulators`.
"""
