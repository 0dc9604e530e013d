"""scripts.oracle: the independent reference implementation checks out against the published digests."""

import hashlib

from scripts.oracle import reference_pickles, reference_splits
from tests.helpers import V1


def test_oracle_itself_matches_published_digests():
    # guards the oracle: if it drifted, every comparison against it would be meaningless
    blobs = reference_pickles([100] * 10, [20] * 10, 42)
    assert {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()} == V1
    assert set(reference_splits([1] * 10, [1] * 10, 0)) == {"train", "test"}
