"""Transitional alias of campus.brokerurl, which parses broker URLs (a "broker" module is the
server: controller/broker.py). Only for the modules still importing this name while others edit
them (tui/link.py, tui/options.py, tests/tui/test_pilot.py, tests/faults/test_broker_restart.py,
tests/shard/test_processes.py); delete it once they import campus.brokerurl."""

from campus.brokerurl import BrokerAddress, parse_broker_url

__all__ = ["BrokerAddress", "parse_broker_url"]
