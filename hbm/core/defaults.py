"""Every default setting of hbm, in one frozen record.

The sampling settings, the data options, the report options: :data:`DEFAULTS` is the only place
they are written. ``SampleConfig``, ``FitSpec``, ``ModelSpec``, ``hbm.fit`` and the command line
read them from here, so a default changed here changes everywhere at once.

>>> DEFAULTS.draws, DEFAULTS.chains, DEFAULTS.target_accept
(1000, 4, 0.95)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "Defaults"]


@dataclass(frozen=True)
class Defaults:
    """hbm's defaults.

    Attributes
    ----------
    draws, tune, chains : int
        Draws kept per chain, tuning steps per chain, independent chains.
    target_accept : float
        NUTS's target acceptance rate.
    sampler : str
        ``nutpie`` (the fast Rust NUTS) or ``pymc``.
    parametrization, likelihood : str
        ``auto`` (hbm chooses and says why); exact sufficient statistics.
    order, missing : str
        Group labels in first-seen order; missing values are an error.
    ci_prob : float
        Probability of the equal-tailed intervals in summaries, tables and reports.
    max_report_group_rows : int
        Group rows shown in a report's tables (the CSV files hold them all).
    max_labelled_groups : int
        Above this many groups the per-group plots drop their labels.
    engine : str
        How a data file is reduced: ``auto`` is pandas up to :attr:`engine_switch_bytes` and
        DuckDB (out of core) above, when it is installed.
    engine_switch_bytes : int
        Size of a data file (or of all files a glob matches) above which ``auto`` uses DuckDB.
    duckdb_memory_limit : str
        DuckDB's memory limit during a reduction (it spills to disk beyond it).
    duckdb_threads : int
        DuckDB's threads during a reduction: 1, because with more DuckDB merges the threads'
        partial aggregates in an order that varies from run to run, and the statistics (so the
        draws) would differ in their last bits between two runs on the same file.
    cluster_timeout : float
        Seconds to wait for a cluster's scheduler to answer before saying it does not.
    max_drawn_groups : int
        Past this many groups the per-group figures draw the extremes and a seeded sample
        (every group stays in the CSV files and tables).
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.95
    sampler: str = "nutpie"
    parametrization: str = "auto"
    likelihood: str = "sufficient"
    order: str = "first-seen"
    missing: str = "error"
    ci_prob: float = 0.94
    max_report_group_rows: int = 50
    max_labelled_groups: int = 70
    engine: str = "auto"
    engine_switch_bytes: int = 200 * 2**20
    duckdb_memory_limit: str = "256MB"
    duckdb_threads: int = 1
    cluster_timeout: float = 5.0
    max_drawn_groups: int = 300


#: The defaults in force.
DEFAULTS = Defaults()
