"""round_half_up's whole-number fast path gives exactly what the Decimal arithmetic gives."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from ipt_measures.models import round_half_up


def by_decimal(value: float, decimals: int):
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(rounded) if decimals == 0 else float(rounded)


@given(st.integers(min_value=-10**15, max_value=10**15), st.integers(min_value=0, max_value=3))
def test_whole_floats_round_as_the_decimal_arithmetic_does(n, decimals):
    value = float(n)
    got = round_half_up(value, decimals)
    want = by_decimal(value, decimals)
    assert got == want and type(got) is type(want)


@given(st.floats(min_value=-1000, max_value=1000, allow_nan=False), st.integers(min_value=0, max_value=3))
def test_any_float_rounds_as_the_decimal_arithmetic_does(value, decimals):
    got = round_half_up(value, decimals)
    want = by_decimal(value, decimals)
    assert got == want and type(got) is type(want)
