"""Sequences (drip campaigns): models.py (the rows), timing.py (when a step is due),
services.py (find, subscribe, unsubscribe), sweep.py (sending what is due)."""
