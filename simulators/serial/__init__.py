"""Simulated serial sensors on pseudo-terminals: an MH-Z19B, an SDS011, a Senseair S8 and an
Arduino-style ASCII board, each answering byte for byte as the real device does, with faults on
demand (silence, bad checksums, line noise), their values taken from the simulated room.

They share the byte codecs of `drivers.serial.protocols` (pure modules, no I/O) with the driver,
and nothing else of it: like every simulator, they talk to the controller only over the wire.
"""
