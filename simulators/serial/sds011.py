"""A simulated Nova SDS011: streams a data frame a second (active mode) or answers queries.

As the real sensor: commands for another device id are ignored; asleep, it answers only the
wake command; a working period of n minutes sends one frame every n minutes; every set or get
command is answered with a C5 reply carrying the setting.
"""

from __future__ import annotations

from campus.model import SerialProtocol
from drivers.serial.protocols import sds011
from drivers.serial.protocols.framing import BadData, StreamParser
from simulators.serial.device import DeviceBase, Faults, ValueSource, flip

FIRMWARE = bytes([15, 7, 10])
"""Year, month, day of the simulated firmware."""


class Sds011Device(DeviceBase):
    protocol = SerialProtocol.SDS011

    def __init__(
        self,
        source: ValueSource,
        faults: Faults | None = None,
        *,
        device_id: int = 0xA160,
        interval: float = 1.0,
    ) -> None:
        super().__init__(source, faults)
        self.device_id = device_id
        self.tick_interval: float | None = interval
        self.query_mode = False
        self.asleep = False
        self.period = 0
        """Working period in minutes (0: continuous)."""
        self.commands: list[sds011.Command] = []
        self._last_frame: float | None = None
        self._parser = StreamParser(sds011.CommandFramer())

    def receive(self, data: bytes) -> bytes:
        out = b""
        for item in self._parser.feed(data):
            if isinstance(item, BadData):
                continue
            if item.device not in (sds011.ALL, self.device_id):
                continue
            self.commands.append(item)
            out += self._answer(item)
        return out

    def tick(self, now: float) -> bytes:
        if self.asleep or self.query_mode:
            return b""
        waiting = self._last_frame is not None and now - self._last_frame < self.period * 60.0
        if self.period and waiting:
            return b""
        self._last_frame = now
        return self._data()

    def corrupt(self, frame: bytes) -> bytes:
        return flip(frame, len(frame) - 2)

    def _data(self) -> bytes:
        pm2_5 = self.value("pm2_5", 5.0)
        pm10 = self.value("pm10", 10.0)
        return self.emit(sds011.data_frame(pm2_5, pm10, self.device_id))

    def _answer(self, command: sds011.Command) -> bytes:
        setting, value = command.data[0], command.data[1]
        if self.asleep and command.command != sds011.SLEEP_WORK:
            return b""
        match command.command:
            case sds011.QUERY:
                return self._data()
            case sds011.REPORTING_MODE:
                if setting == sds011.SET:
                    self.query_mode = value == 1
                return self._reply(command.command, [setting, int(self.query_mode)])
            case sds011.SLEEP_WORK:
                if setting == sds011.SET:
                    self.asleep = value == 0
                return self._reply(command.command, [setting, int(not self.asleep)])
            case sds011.WORKING_PERIOD:
                if setting == sds011.SET and value <= 30:
                    self.period = value
                return self._reply(command.command, [setting, self.period])
            case sds011.SET_ID:
                self.device_id = command.data[10] << 8 | command.data[11]
                return self._reply(command.command, [0, 0])
            case sds011.FIRMWARE:
                return self.emit(sds011.reply_frame(command.command, FIRMWARE, self.device_id))
        return b""

    def _reply(self, cmd: int, data: list[int]) -> bytes:
        return self.emit(sds011.reply_frame(cmd, bytes(data), self.device_id))
