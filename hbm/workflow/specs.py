"""Model specs: one fit described by a TOML file in ``models/``.

:func:`read_spec` reads and checks a spec into a :class:`ModelSpec`, which :func:`fit_spec`,
``hbm fit x.toml`` and ``hbm batch`` run. (``FitSpec``, the record of a fit that ran, lives in
:mod:`hbm.results.fit_spec`.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import check_seed
from hbm.data.grouped import grouped_data
from hbm.data.tables import read_table
from hbm.inference.config import SampleConfig
from hbm.model.description import quote_name
from hbm.model.families import get_family
from hbm.model.families.normal import PRESETS
from hbm.model.formula import formula_variables, parse_formula
from hbm.model.outcome_design import outcome_formula
from hbm.model.parametrizations import check_likelihood, check_parametrization
from hbm.results.fit_result import FitResult
from hbm.workflow.fit import fit_grouped
from hbm.workflow.fit_formula import fit_formula

__all__ = ["ModelSpec", "fit_spec", "read_spec"]

#: Keys a spec file may have at its top level, and in its ``[sampling]`` table.
SPEC_KEYS = (
    "data",
    "formula",
    "group",
    "value",
    "se",
    "parametrization",
    "likelihood",
    "order",
    "missing",
    "family",
    "priors",
    "sampling",
)
SAMPLING_KEYS = ("draws", "tune", "chains", "seed", "target_accept", "sampler")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One fit described by a TOML file (see :func:`read_spec` for the format).

    Attributes
    ----------
    path : Path
        The spec file.
    data : Path
        The data file, resolved against the spec file's folder.
    formula : str or None
        A model formula (instead of ``group`` and ``value``).
    group, value, se, parametrization, likelihood, order, missing, family
        As in :func:`hbm.fit` (``group`` and ``value`` are empty for a formula).
    priors : dict or str or None
        Prior text (or a number: fixed) per parameter, a preset name, or None for the defaults.
    draws, tune, chains, target_accept, seed, sampler
        The ``[sampling]`` table; ``seed=None`` draws a fresh seed that the result records.
    """

    path: Path
    data: Path
    formula: str | None = None
    group: str = ""
    value: str = ""
    se: str | None = None
    parametrization: str = DEFAULTS.parametrization
    likelihood: str = DEFAULTS.likelihood
    order: str = DEFAULTS.order
    missing: str = DEFAULTS.missing
    family: str = "normal"
    priors: dict[str, str | float] | str | None = None
    draws: int = DEFAULTS.draws
    tune: int = DEFAULTS.tune
    chains: int = DEFAULTS.chains
    target_accept: float = DEFAULTS.target_accept
    seed: int | None = None
    sampler: str = DEFAULTS.sampler

    @property
    def name(self) -> str:
        """The spec file's stem: the name of its result folder in a batch."""
        return self.path.stem

    def settings(self) -> dict[str, Any]:
        """What the spec asks for, without where the files are (used for the batch's hash)."""
        out = asdict(self)
        del out["path"], out["data"]
        if out["family"] == "normal":  # specs written before families keep their hash
            del out["family"]
        return out


def read_spec(path: str | Path) -> ModelSpec:
    """Read and check a model spec (TOML); relative paths are relative to the spec file.

    The format::

        data = "../data/eight_schools.csv"   # required; CSV or Parquet
        group = "school"                     # required (or a formula instead of group and value:
        value = "effect"                     #   formula = "y ~ x + (1 + x | g)")
        se = "stderr"                        # optional: summaries form
        parametrization = "auto"             # optional; also likelihood, order, missing, family
        [priors]                             # optional, prior text of DESIGN.md
        mu = "normal(0, 5)"
        tau = "halfcauchy(5)"                # a number, e.g. tau = 1, fixes the parameter
        [sampling]                           # optional: draws, tune, chains, seed,
        draws = 1000                         #   target_accept, sampler
        seed = 1

    ``priors = "seed"`` (a preset name) may stand instead of the ``[priors]`` table.

    Raises
    ------
    FileNotFoundError
        If the spec file does not exist.
    ValueError
        If the file is not valid TOML, has unknown keys (named in the message), misses a required
        key or holds a value of the wrong kind. Every message starts with the spec's path.

    Examples
    --------
    >>> spec = read_spec("models/eight_schools.toml")  # doctest: +SKIP
    >>> spec.group, spec.se  # doctest: +SKIP
    ('school', 'stderr')
    """
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The model spec {str(path)!r} does not exist.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a TOML text file (it is not UTF-8).") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}.") from None
    try:
        return _spec_from_dict(raw, path)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: {error}") from None


def _spec_from_dict(raw: dict[str, Any], path: Path) -> ModelSpec:
    _no_unknown(raw, SPEC_KEYS, "at the top level")
    if "formula" in raw:
        given = [key for key in ("group", "value", "se") if key in raw]
        if given:
            raise ValueError(
                f"'formula' and {', '.join(map(repr, given))} cannot both be given: the formula "
                "names the columns ('group' and 'value' are the shorthand for "
                "'value ~ 1 + (1 | group)')."
            )
    required = ("data",) if "formula" in raw else ("data", "group", "value")
    missing = [key for key in required if key not in raw]
    if missing:
        raise ValueError(
            f"the required key(s) {', '.join(map(repr, missing))} are missing"
            + (
                " (or give 'formula' instead of 'group' and 'value')."
                if "formula" not in raw
                else "."
            )
        )
    text = {key: _string(raw, key) for key in SPEC_KEYS[:10] if key in raw}
    if "family" in text:
        get_family(text["family"])
        if "se" in text and text["family"] != "normal":
            raise ValueError(
                f"'se' (the summaries form) is for the normal family, not {text['family']!r}."
            )
    check_parametrization(text.get("parametrization", DEFAULTS.parametrization))
    check_likelihood(text.get("likelihood", DEFAULTS.likelihood))
    priors = raw.get("priors")
    if isinstance(priors, str):
        if priors not in PRESETS:
            raise ValueError(
                f"'priors' must be a [priors] table or one of {', '.join(map(repr, PRESETS))}; "
                f"got {priors!r}."
            )
    elif isinstance(priors, dict):
        for name, prior in priors.items():
            if isinstance(prior, bool) or not isinstance(prior, str | int | float):
                raise ValueError(
                    f"[priors] {name} must be prior text such as 'normal(0, 5)' or a number; "
                    f"got {prior!r}."
                )
    elif priors is not None:
        raise ValueError(f"'priors' must be a [priors] table; got {priors!r}.")
    sampling = raw.get("sampling", {})
    if not isinstance(sampling, dict):
        raise ValueError(f"'sampling' must be a [sampling] table; got {sampling!r}.")
    _no_unknown(sampling, SAMPLING_KEYS, "in [sampling]")
    check_seed(sampling.get("seed"), "[sampling] seed")
    config = SampleConfig(  # checks the numbers with the library's own messages
        **{("random_seed" if k == "seed" else k): v for k, v in sampling.items()}
    )
    data = Path(text.pop("data")).expanduser()
    return ModelSpec(
        path=path,
        data=data if data.is_absolute() else path.parent / data,
        priors=dict(priors) if isinstance(priors, dict) else priors,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        target_accept=float(config.target_accept),
        seed=config.random_seed,
        sampler=config.sampler,
        **text,
    )


def _no_unknown(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))} {where}; "
            f"the known keys are {', '.join(known)}."
        )


def _string(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty text; got {value!r}.")
    return value


def fit_spec(spec: ModelSpec | str | Path, *, progressbar: bool = False) -> FitResult:
    """Fit what a model spec describes: read its data file, check it, sample.

    Parameters
    ----------
    spec : ModelSpec or path
        A spec, or the path of a spec file (read with :func:`read_spec`).
    progressbar : bool
        Show the priors, the parametrization and sampling progress.

    Returns
    -------
    FitResult
        Its ``spec.data`` records the data file's path.
    """
    if not isinstance(spec, ModelSpec):
        spec = read_spec(spec)
    config = SampleConfig(
        draws=spec.draws,
        tune=spec.tune,
        chains=spec.chains,
        target_accept=spec.target_accept,
        random_seed=spec.seed,
        sampler=spec.sampler,  # type: ignore[arg-type]
        progressbar=progressbar,
    )
    formula = spec.formula
    if formula is None and spec.family != "normal":
        formula = f"{quote_name(spec.value)} ~ 1 + (1 | {quote_name(spec.group)})"
    if formula is not None:
        parsed = parse_formula(formula)
        if spec.family != "normal":
            parsed = outcome_formula(parsed, spec.family)[0]
        table = read_table(spec.data, group=formula_variables(parsed)[2])
        return fit_formula(
            table,
            formula,
            family=spec.family,
            priors=spec.priors,
            parametrization=spec.parametrization,
            likelihood=spec.likelihood,
            config=config,
            order=spec.order,
            missing=spec.missing,
            source=str(spec.data),
        )
    table = read_table(spec.data, group=spec.group)
    data = grouped_data(
        table,
        group=spec.group,
        value=spec.value,
        se=spec.se,
        order=spec.order,  # type: ignore[arg-type]
        missing=spec.missing,  # type: ignore[arg-type]
        keep_rows=spec.likelihood == "rows",
    )
    return fit_grouped(
        data,
        priors=spec.priors,
        parametrization=spec.parametrization,
        likelihood=spec.likelihood,
        config=config,
        source=str(spec.data),
    )
