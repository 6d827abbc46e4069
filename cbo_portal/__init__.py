"""The project package. The Celery app (cbo_portal/celery.py) is loaded by the app config's
ready(), not here, so framework-free modules such as cbo_portal.identifiers import without Django."""
