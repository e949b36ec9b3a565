"""How a result that a signal cut short concludes: the checks that needed the whole window
become incomplete (checks.incomplete), and a profile's own codes with them unless the profile
says a partial conversation already decides them."""

from __future__ import annotations

from sse_doctor.checks.incomplete import interrupted_experiment
from sse_doctor.checks.incomplete import interrupted_result as _settle
from sse_doctor.model import Result

__all__ = ["interrupted_experiment", "interrupted_result"]


def interrupted_result(result: Result) -> Result:
    """Settle an interrupted probe's result (in place; returned)."""
    codes: frozenset[str] = frozenset()
    stands: frozenset[str] = frozenset()
    if result.profile is not None:
        from sse_doctor.profiles import get

        try:
            profile = get(result.profile.name)
        except Exception:  # noqa: BLE001 - an unknown profile: all its codes are undecided
            profile = None
        codes = frozenset(getattr(profile, "codes", ()) or ())
        stands = frozenset(getattr(profile, "partial_stands", ()) or ())
    return _settle(result, codes, stands)
