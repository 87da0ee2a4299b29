"""The campus-load speed benchmark: campusctl against a paho ceiling, a hand-written script and
Node-RED on the same Mosquitto, one engine at a time (see bench/README.md)."""
