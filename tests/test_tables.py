"""pipeline.benchmark.tables: the Markdown tables and the epochs the card's curve shows."""

from pipeline.benchmark import tables


def test_curve_epochs_keep_the_first_and_last():
    assert tables.curve_epochs(20) == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert tables.curve_epochs(3) == [1, 2, 3]
    assert tables.curve_epochs(25)[-1] == 25
