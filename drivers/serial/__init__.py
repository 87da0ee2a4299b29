"""The serial driver: UART sensors (MH-Z19B, SDS011, Senseair S8) and line-based boards.

`drivers.serial.protocols` holds the pure byte codecs (the simulators use them too);
`drivers.serial.driver.SerialDriver` is the driver; `drivers.serial.tool` the integrators'
`campusctl serial` commands. This package's own import pulls in nothing, so the simulators can
import the codecs without pyserial or the driver.
"""
