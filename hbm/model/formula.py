"""Reading an lme4 / Bambi style formula into its parts: response, population terms, group blocks.

    Reaction ~ Days + (Days | Subject)              correlated intercept and slope per Subject
    y ~ x + (1 | g) + (0 + x | g)                   the same terms, uncorrelated
    y ~ x + (1 + x || g)                            lme4's double bar: uncorrelated too
    score ~ 1 + (1 | district/school)               nested: (1 | district) + (1 | district:school)

formulae (Bambi's parser) parses each part; it expands ``(1 + x | g)`` into separate terms and so
forgets which terms share a bar, which is what says whether their effects are correlated. So the
group blocks — a parenthesis holding a top-level ``|`` — are found here first, then formulae reads
the response, the population part and each block's expression. Column names that are not Python
identifiers are written in backticks: `` `log.radon` ~ floor + (1 | county) ``.

>>> parsed = parse_formula("Reaction ~ Days + (Days | Subject)")
>>> parsed.response, parsed.population, [(b.expr, b.factor, b.correlated) for b in parsed.blocks]
('Reaction', 'Days', [('Days', 'Subject', True)])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["GroupBlock", "ParsedFormula", "formula_variables", "parse_formula"]

#: Stands in for a removed group block while the population part is put together.
_BLOCK = "\x00"


@dataclass(frozen=True)
class GroupBlock:
    """One parenthesised group term ``(expr | factor)``.

    Attributes
    ----------
    expr : str
        The varying terms as written (``Days``, ``1 + x``, ``0 + x``).
    factor : str
        The grouping factor: a column, or columns joined by ``:`` (``district:school``).
    correlated : bool
        ``|`` (the terms' effects are correlated) or ``||`` (independent).
    within : str
        For a level written with ``/`` (``(1 | district/school)``), the factor it was declared
        nested in (``district`` for ``district:school``); empty otherwise.
    """

    expr: str
    factor: str
    correlated: bool = True
    within: str = field(default="", repr=False)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its parts (see the module docstring).

    Attributes
    ----------
    text : str
        The formula as given.
    response : str
        The left-hand side as written (a column, or ``p(successes, trials)``, ``use[Y]``).
    population : str
        The population (common) part of the right-hand side, group blocks removed (``1`` when
        nothing else is left, as lme4 adds an intercept).
    blocks : tuple of GroupBlock
        The group blocks in order, nesting expanded.
    """

    text: str
    response: str
    population: str
    blocks: tuple[GroupBlock, ...]

    @property
    def factors(self) -> tuple[str, ...]:
        """The grouping factors, each once, in order of appearance."""
        return tuple(dict.fromkeys(block.factor for block in self.blocks))

    @property
    def declared_nesting(self) -> tuple[tuple[str, str], ...]:
        """``(outer, inner)`` for every level written with ``/``: ``(1 | district/school)``
        declares ``("district", "district:school")``."""
        pairs = ((block.within, block.factor) for block in self.blocks if block.within)
        return tuple(dict.fromkeys(pairs))


def parse_formula(formula: str) -> ParsedFormula:
    """Split ``formula`` and check every part with formulae; errors say where.

    Raises
    ------
    TypeError
        If ``formula`` is not text.
    ValueError
        One line naming what is wrong and where: no ``~``, unbalanced brackets, an empty side, a
        group block without a factor, or a part formulae cannot read.

    Examples
    --------
    >>> parse_formula("y ~ x + (1 | g) + (0 + x | g)").blocks[1]
    GroupBlock(expr='0 + x', factor='g', correlated=True)
    >>> parse_formula("y ~ 1 + (1 | district/school)").factors
    ('district', 'district:school')
    >>> parse_formula("y ~ 1 + (1 | district/school)").declared_nesting
    (('district', 'district:school'),)
    >>> parse_formula("y x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The formula 'y x' has no '~' between the response and the terms; ...
    """
    if not isinstance(formula, str):
        raise TypeError(f"The formula must be text such as 'y ~ x + (1 | g)'; got {formula!r}.")
    text = formula.strip()
    _check_brackets(text)
    if text.count("~") != 1 or _outside_brackets(text).count("~") != 1:
        found = "no '~'" if "~" not in text else "more than one '~'"
        raise ValueError(
            f"The formula {formula!r} has {found} between the response and the terms; write it "
            "like 'y ~ x + (1 | g)'."
        )
    response, rhs = (part.strip() for part in text.split("~"))
    if not response:
        raise ValueError(
            f"The formula {formula!r} has no response left of '~'; write it like 'y ~ x'."
        )
    if not rhs:
        raise ValueError(f"The formula {formula!r} has no terms right of '~'; write e.g. 'y ~ 1'.")
    population, blocks = _split_blocks(rhs, formula)
    _check_with_formulae(f"{response} ~ {population}", formula, "the response and population part")
    for block in blocks:
        _check_with_formulae(f"{response} ~ {block.expr}", formula, f"({block.expr} | ...)")
        for part in block.factor.split(":"):
            _check_with_formulae(f"{response} ~ 0 + {part}", formula, f"(... | {block.factor})")
    return ParsedFormula(text=text, response=response, population=population, blocks=blocks)


def _split_blocks(rhs: str, formula: str) -> tuple[str, tuple[GroupBlock, ...]]:
    """The population part and the group blocks of a right-hand side."""
    blocks: list[GroupBlock] = []
    pieces: list[str] = []
    depth, start, last = 0, -1, 0
    for position, char in enumerate(rhs):
        if char == "(":
            if depth == 0:
                start = position
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                inside = rhs[start + 1 : position]
                if "|" in _outside_brackets(inside):
                    pieces.append(rhs[last:start] + _BLOCK)
                    blocks.extend(_block(inside, formula))
                    last = position + 1
    pieces.append(rhs[last:])
    terms = []
    for term in _top_level_split("".join(pieces)):
        cleaned = term.replace(_BLOCK, "").strip()
        if not cleaned and term.strip() != _BLOCK:
            raise ValueError(
                f"The formula {formula!r} has an empty term: a '+' with nothing after it, or "
                "two in a row."
            )
        if cleaned:
            terms.append(cleaned)
    return " + ".join(terms) or "1", tuple(blocks)


def _top_level_split(text: str) -> list[str]:
    """``text`` split at the ``+`` signs outside brackets."""
    parts: list[str] = []
    current: list[str] = []
    for char, outside in zip(text, _outside_brackets(text), strict=True):
        if char == "+" and outside == "+":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _block(inside: str, formula: str) -> list[GroupBlock]:
    double = "||" in _outside_brackets(inside)
    expr, _, factor = inside.partition("||" if double else "|")
    expr, factor = expr.strip(), factor.strip()
    where = f"({inside.strip()})"
    if not expr:
        raise ValueError(
            f"The group term {where} in {formula!r} has nothing left of '|'; write the varying "
            "terms there, e.g. (1 | g) or (1 + x | g)."
        )
    if not factor or "|" in factor:
        raise ValueError(
            f"The group term {where} in {formula!r} needs one grouping factor right of '|', "
            "e.g. (1 | g), (1 | a:b) or (1 | a/b)."
        )
    levels = [part.strip() for part in factor.split("/")]
    if any(not level for level in levels):
        raise ValueError(f"The grouping factor {factor!r} in {formula!r} has an empty level.")
    return [
        GroupBlock(expr, ":".join(levels[: depth + 1]), not double, ":".join(levels[:depth]))
        for depth in range(len(levels))
    ]


def _check_brackets(text: str) -> None:
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(
                f"The formula {text!r} closes a bracket it never opened, at character "
                f"{position + 1}."
            )
    if depth:
        raise ValueError(f"The formula {text!r} has {depth} unclosed '('.")


def _outside_brackets(text: str) -> str:
    """``text`` with everything inside brackets (and backticks) blanked out."""
    out, depth, quoted = [], 0, False
    for char in text:
        if char == "`":
            quoted = not quoted
        if char == "(" and not quoted:
            depth += 1
        out.append(char if depth == 0 and not quoted else " ")
        if char == ")" and not quoted:
            depth -= 1
    return "".join(out)


def _check_with_formulae(text: str, formula: str, part: str) -> None:
    import formulae

    try:
        formulae.model_description(text)
    except Exception as error:  # formulae's parse errors, worded for the whole formula
        message = str(error).rstrip(".")
        if "parse ''" in message:
            message = "it ends where a term was expected (a trailing '+'?)"
        raise ValueError(
            f"The formula {formula!r} could not be read in {part}: {message}."
        ) from None


def formula_variables(parsed: ParsedFormula) -> tuple[str, list[str], list[str]]:
    """The response column, the covariate columns and the grouping columns a formula uses."""
    import formulae

    described = formulae.model_description(f"{parsed.response} ~ {parsed.population}")
    response_names = sorted(described.response.var_names) if described.response else []
    if len(response_names) != 1:
        raise ValueError(
            f"The response {parsed.response!r} of a normal model must be one numeric column."
        )
    covariates = set(described.var_names) - set(response_names)
    for block in parsed.blocks:
        covariates |= set(formulae.model_description(f"y ~ {block.expr}").var_names) - {"y"}
    factor_columns = list(
        dict.fromkeys(part.strip("`") for factor in parsed.factors for part in factor.split(":"))
    )
    covariates = {name for name in covariates if name}  # formulae names np.log's module ''
    covariates -= _contrast_names(parsed)
    return response_names[0], sorted(covariates - set(factor_columns)), factor_columns


_CONTRAST = re.compile(r"\bC\(\s*[^,()]+,\s*([A-Za-z_]\w*)")


def _contrast_names(parsed: ParsedFormula) -> set[str]:
    """Names formulae lists as variables that are ``C(x, <contrast>)``'s contrast (``Sum``,
    ``Treatment``...), not columns."""
    text = " ".join([parsed.population, *(block.expr for block in parsed.blocks)])
    return set(_CONTRAST.findall(text))
