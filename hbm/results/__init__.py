"""The record of a fit: ``FitResult``, its summary, its DataTree attributes, saving and loading."""
