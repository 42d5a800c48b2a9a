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
    max_kept_rows : int
        A formula fit keeps its rows in memory (for the plots of each group's data) up to this
        many; larger tables are only reduced.
    loo_max_values : int
        Most values (draws x units, 80 MB of float64) held at once for LOO and prior draws: rows
        past it use every k-th draw; a fit past it stores no groups' log likelihood (LOO makes it
        a block of groups at a time, :mod:`hbm.analysis.loo_blocks`); prior draws past it are
        fewer (:mod:`hbm.analysis.log_likelihood`).
    loo_min_draws : int
        Fewest draws PSIS-LOO is run on: rows beyond ``loo_max_values / loo_min_draws`` are
        not left out one by one (leave groups out instead).
    max_report_loo_units : int
        Units (groups or rows) up to which the report computes LOO: arviz-stats' PSIS costs
        about half a millisecond per unit, and the report runs it up to four times.
    group_draws_max_values : int
        Most group-effect draws (draws x groups x terms, 80 MB of float64) a fit holds in its
        posterior and ``fit.nc`` stores by default; past it the marginal form's exact draws are
        made again a block at a time when needed (:mod:`hbm.results.group_draws`), and the
        groups' log likelihood is computed when needed rather than stored.
    league_exact_values : int
        Up to this many draws x groups (40 million) the league's ranks are exact when the draws
        are not held (every rank kept as a small integer, at most 160 MB); past it they come from
        a sketch of each draw, exact in its tails (:mod:`hbm.analysis.league`).
    league_max_values : int
        Most draws x groups the league's sketch ranks: past it every k-th draw is used.
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
    max_kept_rows: int = 2_000_000
    loo_max_values: int = 10_000_000
    loo_min_draws: int = 1_000
    max_report_loo_units: int = 2_500
    group_draws_max_values: int = 10_000_000
    league_exact_values: int = 40_000_000
    league_max_values: int = 1_000_000_000
    engine: str = "auto"
    engine_switch_bytes: int = 200 * 2**20
    duckdb_memory_limit: str = "256MB"
    duckdb_threads: int = 1
    cluster_timeout: float = 5.0
    max_drawn_groups: int = 300


#: The defaults in force.
DEFAULTS = Defaults()
