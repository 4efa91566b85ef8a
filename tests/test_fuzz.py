"""Every reader on a few hundred mutated real files (scripts/fuzz.py, seeded): LoadErrors only, never an exception,
and no input slower than the time limit. scripts/fuzz.py runs 10,000 per format."""

import pytest
from fuzz import SEEDS, fuzz


@pytest.mark.parametrize("format", sorted(SEEDS))
def test_a_reader_reports_mutated_files_without_a_traceback(format):
    tally = fuzz(format, count=300, seed=2026, limit=10.0)
    assert tally.failures == [] and tally.inputs == 300
    assert tally.errors > 0 and tally.records > 0  # the inputs were both broken and still readable
