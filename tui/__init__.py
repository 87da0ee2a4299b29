"""The facility staff's terminal UI (`campusctl tui`): a Textual app on the control plane.

It talks to the controller only through the broker (tui.link); it never imports controller,
rules or drivers. docs/tui.md shows the screens and keys.
"""
