"""Byte-exact codecs of the serial sensors: pure functions and stream parsers, no I/O.

Each protocol module encodes requests, decodes frames with their checksum or CRC, and offers a
`take` function for `framing.StreamParser`, which finds frames in a byte stream and skips garbage.
The simulators import these modules too, so a device and the driver agree byte for byte.
"""
