"""Where a command's observations become its result: the one place per command that runs the
checks on what the engines recorded and makes the Result the reports render.

Layering: conclude imports the engines' observation data and the pure checks; the plans call
it after their engines ran (and after an interruption, to salvage what was seen).
"""
