"""Framework-free X12 layer: 837P writer, 835/999 parsers and writers, our own 837 checks,
a pyx12 wrapper and the CARC/RARC tables.

Nothing in this package imports Django, so it can be tested and benchmarked on its own and reused
by importers, scripts and Celery tasks alike.
"""
