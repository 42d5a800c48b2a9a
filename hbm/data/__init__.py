"""Reading and checking tables and reducing them to per-group statistics (the flow's first stage).

- :mod:`hbm.data.tables` reads CSV and Parquet files;
- :mod:`hbm.data.columns` checks columns and values, with messages that name them;
- :mod:`hbm.data.reduce` computes mergeable, centred per-group statistics, and
  :mod:`hbm.data.comoments` the same for several columns (means, co-moment matrices);
- :mod:`hbm.data.engines` reduces a file or glob where it lives: pandas, DuckDB, Dask;
- :mod:`hbm.data.grouped_reduced` makes ``GroupedData`` from an engine's reduction, and
  :mod:`hbm.data.stats_file` writes and reads statistics files (Parquet);
- :mod:`hbm.data.grouped` makes the checked, reduced :class:`~hbm.data.grouped.GroupedData`;
- :mod:`hbm.data.datasets` holds the bundled datasets.
"""
