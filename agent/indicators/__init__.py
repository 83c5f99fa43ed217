"""The indicators of a period (semantics.md §4-§7), one module each:

- `periods.py`: report periods (months, quarters) in the configured time zone;
- `timeline.py` and `availability.py`: a service's timeline and the time it spent in each state;
- `compute.py`: every raw figure of a period from the store (`figures.py` holds them);
- `documents.py`: the figures as a JSON document;
- `quar_config.py` and `quar.py`: QUAR targets and grading; `projection.py`: the month's end.
"""
