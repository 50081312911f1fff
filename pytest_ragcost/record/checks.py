"""The checks on what a test passes the fixture, and the errors and warnings they raise."""

from __future__ import annotations

import math

from ..run import NAME_RE


class RagcostUsageError(ValueError):
    """The fixture was used in a way that cannot be measured; the message says how to fix it."""


class RagcostValueWarning(UserWarning):
    """A recorded value could not be stored as it was; its ``repr`` was stored instead."""


#: the largest count a float holds exactly; a larger token or item count is a mistake
MAX_COUNT = 2**53

# names already checked: a stage or count name is checked once per run, not per request
VALID_NAMES: set[str] = set()


def digits(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**30:
        # not repr(): Python refuses to print an int of more than 4300 digits
        return f"a {int(abs(value).bit_length() * math.log10(2)) + 1}-digit number"
    return repr(value)


def type_name(value: object) -> str:
    return type(value).__name__


def check_name(name: object, what: str) -> str:
    """``name`` when it can be a stage, count or token-kind name; else a usage error."""
    __tracebackhide__ = True
    if type(name) is str and name in VALID_NAMES:
        return name
    if not isinstance(name, str) or not NAME_RE.match(name):
        msg = (
            f"{what} {name!r} is not a valid name: use letters, digits, '_' or '-', "
            "starting with a letter or '_' and without dots "
            "(dots separate stage and metric in ragcost.yaml keys, e.g. 'generate.wall_ms')"
        )
        raise RagcostUsageError(msg)
    if len(VALID_NAMES) < 10_000:
        VALID_NAMES.add(name)
    return name


def storable(value: object, call: str, name: str) -> object:
    """``value`` when JSON can hold it, else its ``repr`` (with a warning): one odd value
    must not cost the run its other results, in a serial run or under xdist."""
    import json
    import warnings

    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, OverflowError, RecursionError):
        text = repr(value)
        if len(text) > 200:
            text = text[:197] + "..."
        warnings.warn(
            RagcostValueWarning(
                f"{call}({name}=...): a {type_name(value)} cannot be stored in the run's "
                f"JSON; stored its repr {text!r} instead (pass strings, numbers, lists or "
                "dicts of them)"
            ),
            stacklevel=3,
        )
        return text
    return value
