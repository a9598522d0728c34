"""The finite-value check: NaN and infinities found in every float dtype, and only them."""

import numpy as np
import pytest

from actor_mimic.store import NonFiniteValues, check_finite, non_finite_rows


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_nan_and_infinities_are_found_in_every_row_that_holds_one(dtype):
    values = np.ones((6, 5), dtype=dtype)
    values[1, 4] = np.nan
    values[3, 0] = np.inf
    values[4, 2] = -np.inf
    assert non_finite_rows(values).tolist() == [1, 3, 4]


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_the_largest_finite_values_are_not_mistaken_for_infinities(dtype):
    # float16: 65,504 and its neighbours sum past float16's range; the bits test must not care.
    values = np.full((300, 512), np.finfo(dtype).max, dtype=dtype)
    values[::2] = -np.finfo(dtype).max
    values[7, 3] = np.finfo(dtype).tiny / 2  # a subnormal
    assert non_finite_rows(values).tolist() == []
    assert non_finite_rows(values[:0]).tolist() == []


def test_a_float16_nan_payload_and_a_strided_view_are_found():
    bits = np.zeros((4, 8), dtype=np.uint16)
    bits[2, 5] = 0x7C01  # a signalling NaN: exponent all ones, payload 1
    values = bits.view(np.float16)
    assert non_finite_rows(values).tolist() == [2]
    assert non_finite_rows(values[:, 4:]).tolist() == [2]  # not contiguous
    message = r"lane 0: hidden holds NaN or infinite values at 1 step\(s\), first at step 12"
    with pytest.raises(NonFiniteValues, match=message):
        check_finite(values, "hidden", "lane 0", 10)
