"""The shared vocabulary of campusctl: value types, the clock, problems, the campus model.

Every other package (controller, drivers, rules, simulators, tui) may import this one; it imports
none of them.
"""
