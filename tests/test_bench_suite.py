"""The benchmark suite's files: numpy figures and judgements are written as plain JSON."""

import json

import numpy as np
import pytest

from refractory.benchmarks.suite import _plain


def test_numpy_scalars_become_plain_json():
    row = {"value": np.float64(2.5), "met": np.bool_(True), "repeats": np.int64(3)}
    assert json.loads(json.dumps(row, default=_plain)) == {"value": 2.5, "met": True, "repeats": 3}
    with pytest.raises(TypeError, match="cannot write object"):
        json.dumps({"x": object()}, default=_plain)
