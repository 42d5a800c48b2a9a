"""Reading and checking tables and reducing them to per-group statistics (the flow's first stage).

- :mod:`hbm.data.tables` reads CSV and Parquet files;
- :mod:`hbm.data.columns` checks columns and values, with messages that name them;
- :mod:`hbm.data.reduce` computes mergeable, centred per-group statistics;
- :mod:`hbm.data.grouped` makes the checked, reduced :class:`~hbm.data.grouped.GroupedData`;
- :mod:`hbm.data.datasets` holds the bundled datasets.
"""
