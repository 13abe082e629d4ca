"""Execution backends: where placed jobs really run. See `base.py` for the interface."""
