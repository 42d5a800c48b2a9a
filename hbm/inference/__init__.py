"""Sampling: the frozen NUTS configuration, nutpie with disk-cached callbacks, and PyMC's NUTS."""
