"""The campus-load speed benchmark: campusctl against a paho ceiling, a hand-written script and
Node-RED on the same Mosquitto, one engine at a time, measured as an outsider measures it:
readings from paho publisher processes at a fixed rate, every command checked in order against
an oracle (see bench/README.md, "Campus load against peers")."""
