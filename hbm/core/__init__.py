"""The lowest layer: one source of defaults, the names of the contract, seeds, atomic writes.

Nothing here imports any other part of hbm; every other layer may import it.
"""
