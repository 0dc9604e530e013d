"""pipeline.benchmark.plots: the confusion matrix, the CSV tables and the PNG figures, byte for byte."""

import numpy as np

from pipeline.benchmark import plots, reports, training
from pipeline.benchmark import stage as benchmark
from tests.helpers import BENCHMARK_DEFAULTS, PUBLISHED, ROOT, png_pixels


def test_confusion_matrix_and_per_digit_accuracy():
    actual = np.array([0, 0, 1, 1])
    predicted = np.array([[0, 1, 1, 1], [0, 0, 1, 0]])
    matrix = plots.confusion_matrix(actual, predicted)
    assert (
        matrix[0, 0] == 3
        and matrix[0, 1] == 1
        and matrix[1, 1] == 3
        and matrix[1, 0] == 1
        and matrix.sum() == 8
    )
    # digits without test images are left out
    assert reports.per_digit(matrix) == {
        0: 0.75,
        1: 0.75,
    }
    rows = plots.confusion_rows(actual, predicted).decode().splitlines()
    assert rows[0] == "actual,predicted" and rows[1:] == [
        "0,0",
        "0,1",
        "1,1",
        "1,1",
        "0,0",
        "0,0",
        "1,1",
        "1,0",
    ]


def test_learning_curve_and_sweep_csv():
    curves = np.array([[0.1, 0.5], [0.3, 0.7]])
    runs = [
        training.Run(c, np.array(loss), np.zeros(1))
        for c, loss in zip(curves, ([2.0, 1.0], [2.2, 1.2]), strict=True)
    ]
    text = plots.learning_curve(curves, training.mean_loss(runs)).decode()
    assert (
        text
        == "epoch,mean,min,max,train_loss\n1,0.2000,0.1000,0.3000,2.1000\n2,0.6000,0.5000,0.7000,1.1000\n"
    )
    text = plots.sweep_table(
        {15: benchmark.summary([0.3, 0.4]), 5: benchmark.summary([0.1])}
    ).decode()
    assert text.splitlines() == [
        # the columns DVC's plots name
        "train_per_class,train_images,mean,min,max,std",
        "5,50,0.1000,0.1000,0.1000,0.0000",
        "15,150,0.3500,0.3000,0.4000,0.0500",
    ]


def test_pngs_are_deterministic_and_carry_no_version(blobs):
    (images, labels), _ = blobs
    first, again = (
        plots.samples_png(images, labels, per_class=3),
        plots.samples_png(images, labels, per_class=3),
    )
    assert first == again and first.startswith(b"\x89PNG") and b"matplotlib" not in first.lower()
    matrix = np.arange(100).reshape(10, 10)
    assert plots.confusion_png(matrix, "t") == plots.confusion_png(matrix, "t")


def test_samples_grid_places_each_digits_first_images_in_its_row():
    images = np.arange(25 * 64, dtype=np.float32).reshape(25, 8, 8) / (25 * 64)
    # 3: 5 images
    labels = np.array([d for d in range(10) for _ in range(2)] + [3, 3, 3, 7, 7])
    grid = plots.samples_grid(images, labels, per_class=4)
    step = 8 + plots.GAP
    assert grid.shape == (10 * step - plots.GAP, 4 * step - plots.GAP)
    for digit in range(10):
        index = np.flatnonzero(labels == digit)
        for j in range(4):
            cell = grid[digit * step : digit * step + 8, j * step : j * step + 8]
            # the digit's j-th image, in order
            if j < len(index):
                assert np.array_equal(cell, images[index[j]]), (digit, j)
            else:
                # fewer images than columns: blank
                assert np.isnan(cell).all(), (digit, j)
    # the gaps
    assert np.isnan(grid[8::step]).all() and np.isnan(grid[:, 8::step]).all()


def test_the_committed_figures_and_prediction_tables_are_what_the_committed_data_give():
    """Byte for byte: the samples figure from the published train split, and the confusion
    figure, the per-digit table and the prediction rows from the predictions the stage recorded."""

    def committed(path) -> bytes:
        return (ROOT / path).read_bytes()

    with np.load(PUBLISHED / "train.npz", allow_pickle=False) as npz:
        samples = plots.samples_png(npz["images"], npz["labels"])
    assert samples == committed(reports.FIGURE_FILES["samples"])

    seeds = BENCHMARK_DEFAULTS.seeds
    rows = np.loadtxt(ROOT / reports.PLOT_FILES["confusion"], delimiter=",", skiprows=1, dtype=int)
    actual, predicted = rows[: len(rows) // seeds, 0], rows[:, 1].reshape(seeds, -1)
    # the test labels, once per seed
    assert np.array_equal(np.tile(actual, seeds), rows[:, 0])
    assert plots.confusion_rows(actual, predicted) == committed(reports.PLOT_FILES["confusion"])
    matrix = plots.confusion_matrix(actual, predicted)
    per_class = plots.per_class_table(reports.per_digit(matrix))
    assert per_class == committed(reports.PLOT_FILES["per_class"])
    title = f"Baseline on test, {seeds} seeds pooled ({len(rows):,} predictions)"
    assert plots.confusion_png(matrix, title) == committed(reports.FIGURE_FILES["confusion"])


def pixels_near(pixels: np.ndarray, rgb, tolerance: float = 0.02) -> int:
    """How many of ``pixels`` (:func:`tests.helpers.png_pixels`) are within ``tolerance`` of ``rgb``."""
    flat = pixels[..., :3].reshape(-1, 3)
    return int((np.abs(flat - np.asarray(rgb)[:3]) < tolerance).all(axis=1).sum())


def test_samples_figure_draws_0_5_mid_grey_whatever_the_images_range():
    """A fixed grey scale, 0 white to 1 black: an image of 0.5 everywhere is drawn mid-grey, not
    stretched to the images' own minimum and maximum (which would draw it white)."""
    from matplotlib import colormaps

    labels = np.repeat(np.arange(10), 2)
    images = np.full((20, 8, 8), 0.5, dtype=np.float32)
    pixels = png_pixels(plots.samples_png(images, labels, per_class=2))
    grey = colormaps["gray_r"](0.5)
    # the 2 columns asked for fill the figure's width: half of its pixels are those 20 images
    assert pixels_near(pixels, grey) > pixels[..., 0].size / 3


def test_confusion_heat_map_starts_its_colour_scale_at_0():
    """With every count at least 5, the lightest cell is Blues(5 / peak), not Blues(0)."""
    from matplotlib import colormaps

    matrix = np.full((10, 10), 5) + np.diag(np.full(10, 15))
    pixels = png_pixels(plots.confusion_png(matrix, "t"))
    assert pixels_near(pixels, colormaps["Blues"](5 / 20)) > 90 * 100
    assert pixels_near(pixels, colormaps["Blues"](1.0)) > 10 * 100


def test_confusion_counts_above_half_the_peak_are_white_at_or_below_black(monkeypatch):
    from matplotlib.axes import Axes
    from matplotlib.colors import to_rgb

    written = {}
    draw = Axes.text

    def text(self, x, y, s, *args, **kwargs):
        # the colour drawn, however it is spelt
        written[int(y), int(x)] = (s, to_rgb(kwargs["color"]))
        return draw(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Axes, "text", text)
    matrix = np.zeros((10, 10), dtype=np.int64)
    matrix[0, 0], matrix[0, 1], matrix[1, 1], matrix[2, 3] = 20, 10, 11, 1
    plots.confusion_png(matrix, "t")
    # zeros are left blank; exactly half the peak is black
    white, black = to_rgb("white"), to_rgb("black")
    assert written == {
        (0, 0): ("20", white),
        (0, 1): ("10", black),
        (1, 1): ("11", white),
        (2, 3): ("1", black),
    }
