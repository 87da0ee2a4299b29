"""The rules engine: rule files with positions, the expression compiler, the priority arbiter,
and the pure, synchronous engine that turns readings into commands.

`rules` imports `campus` only; the controller wires it to drivers and the clock.
"""
