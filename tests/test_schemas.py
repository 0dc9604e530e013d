"""The data contract: valid data passes, and every check rejects a frame that violates it."""

import numpy as np
import pytest

from pipeline import schemas
from pipeline.core.errors import ContractError


def raw_frame(n=1797):
    rng = np.random.RandomState(1)
    return schemas.to_frame(
        rng.randint(0, 17, (n, 64)).astype(np.uint8), (np.arange(n) % 10).astype(np.int64)
    )


def normalized_frame(n=40):
    rng = np.random.RandomState(2)
    images = (rng.randint(0, 17, (n, 8, 8)) / 16).astype(np.float32)
    return schemas.to_frame(images, (np.arange(n) % 10).astype(np.int64))


def reject(frame, schema, match):
    with pytest.raises(ContractError, match=match) as err:
        schemas.validate(frame, schema, stage="unit")
    assert "stage 'unit'" in str(err.value)
    return str(err.value)


# ---- raw ---------------------------------------------------------------------------------


def test_raw_accepts_source_like_data():
    schemas.validate(raw_frame(), schemas.RAW, stage="unit")


def test_raw_rejects_wrong_row_count():
    reject(raw_frame(1796), schemas.RAW, r"check 'exactly 1,797 rows': 1,796 rows")


def test_raw_rejects_pixel_above_16_and_names_cell():
    frame = raw_frame()
    frame.loc[5, "pixel_2_3"] = 17
    reject(frame, schemas.RAW, r"in_range\(0, 16\)': pixel_2_3\[5\]=17")


def test_raw_rejects_non_integer_pixels():
    frame = raw_frame()
    frame["pixel_0_0"] = frame["pixel_0_0"].astype("float64")
    frame.loc[5, "pixel_2_3"] = 17
    # a column's dtype is named with the dtype found; a cell's check with the cell and its value
    assert reject(frame, schemas.RAW, "dtype").splitlines() == [
        "stage 'unit': raw data (1,797 rows) violates the contract:",
        "  - check 'in_range(0, 16)': pixel_2_3[5]=17",
        "  - check 'dtype('uint8')': pixel_0_0: float64",
    ]


def test_raw_rejects_unknown_label():
    frame = raw_frame()
    frame.loc[9, "label"] = 10
    reject(frame, schemas.RAW, r"label\[9\]=10")


def test_raw_rejects_nulls():
    frame = raw_frame()
    frame["pixel_7_7"] = frame["pixel_7_7"].astype("float64")
    frame.loc[3, "pixel_7_7"] = np.nan
    reject(frame, schemas.RAW, r"not_nullable|null")


def test_raw_rejects_missing_or_renamed_pixel_column():
    frame = raw_frame().rename(columns={"pixel_0_1": "px_0_1"})
    reject(frame, schemas.RAW, r"pixel_0_1|px_0_1")


# ---- normalized --------------------------------------------------------------------------


def test_normalized_accepts_k_over_16():
    schemas.validate(normalized_frame(), schemas.NORMALIZED, stage="unit")


def test_normalized_rejects_float64():
    frame = normalized_frame()
    frame["pixel_1_1"] = frame["pixel_1_1"].astype("float64")
    reject(frame, schemas.NORMALIZED, r"pixel_1_1.*float32|dtype")


def test_normalized_rejects_values_outside_unit_interval():
    frame = normalized_frame()
    frame.loc[4, "pixel_3_3"] = np.float32(1.0625)
    reject(frame, schemas.NORMALIZED, r"in_range\(0\.0, 1\.0\)': pixel_3_3\[4\]")


def test_normalized_rejects_values_off_the_sixteenths_grid():
    frame = normalized_frame()
    frame.loc[2, "pixel_0_5"] = np.float32(0.1)
    reject(frame, schemas.NORMALIZED, r"multiple of 1/16': pixel_0_5\[2\]")


def test_normalized_rejects_nan():
    frame = normalized_frame()
    frame.loc[0, "pixel_4_4"] = np.nan
    reject(frame, schemas.NORMALIZED, r"pixel_4_4")


# ---- splits ------------------------------------------------------------------------------


def splits(per_class_train=4, per_class_test=2, seed=3):
    """Disjoint, shuffled splits with distinct images (no two rows alike)."""
    rng = np.random.RandomState(seed)
    n_train, n_test = 10 * per_class_train, 10 * per_class_test
    # distinct codes -> distinct images
    pool = rng.permutation(17**2)[: n_train + n_test]
    images = np.zeros((len(pool), 8, 8), np.float32)
    images[:, 0, 0], images[:, 0, 1] = (pool // 17) / 16, (pool % 17) / 16
    labels = np.concatenate(
        [np.repeat(np.arange(10), per_class_train), np.repeat(np.arange(10), per_class_test)]
    )
    train_order, test_order = rng.permutation(n_train), n_train + rng.permutation(n_test)
    return (
        {
            "train": (images[train_order], labels[train_order]),
            "test": (images[test_order], labels[test_order]),
        },
        [per_class_train] * 10,
        [per_class_test] * 10,
    )


def check_splits(data, train_counts, test_counts, match=None):
    frame = schemas.splits_frame(data)
    schema = schemas.splits_schema(train_counts, test_counts)
    if match is None:
        schemas.validate(frame, schema, stage="unit")
        return None
    return reject(frame, schema, match)


def test_splits_accept_valid_data():
    check_splits(*splits())


def test_splits_reject_counts_that_differ_from_params():
    data, train_counts, test_counts = splits()
    test_counts[7] = 3
    check_splits(
        data,
        train_counts,
        test_counts,
        r"per-class counts as params say': test digit 7: 2 images, params say 3",
    )


def test_splits_reject_an_image_in_both_train_and_test():
    data, train_counts, test_counts = splits()
    train_images, _ = data["train"]
    test_images, test_labels = data["test"]
    test_images = test_images.copy()
    test_images[5] = train_images[11]
    data["test"] = (test_images, test_labels)
    check_splits(
        data,
        train_counts,
        test_counts,
        r"no image in both train and test': test row 5 is also in train",
    )


def test_splits_reject_labels_grouped_by_class():
    data, train_counts, test_counts = splits()
    images, labels = data["train"]
    order = np.argsort(labels, kind="stable")
    data["train"] = (images[order], labels[order])
    check_splits(
        data,
        train_counts,
        test_counts,
        r"train labels are grouped by class \(10 runs\), not shuffled",
    )


def test_splits_too_small_to_tell_are_exempt_from_the_shuffle_check():
    # one image per digit: every order is "grouped", so no order can be refused
    data, train_counts, test_counts = splits(per_class_train=1, per_class_test=1)
    for name in data:
        images, labels = data[name]
        order = np.argsort(labels)
        data[name] = (images[order], labels[order])
    check_splits(data, train_counts, test_counts)
    assert schemas.grouped_chance([1] * 10) == 1.0
    assert schemas.grouped_chance([100] * 10) < 1e-300


def test_splits_reject_nan():
    data, train_counts, test_counts = splits()
    images, labels = data["train"]
    images = images.copy()
    images[0, 3, 3] = np.nan
    data["train"] = (images, labels)
    check_splits(data, train_counts, test_counts, r"not_nullable': pixel_3_3\[0\]=nan")


def test_splits_reject_labels_that_are_not_int64():
    data, train_counts, test_counts = splits()
    data = {name: (images, labels.astype(np.int32)) for name, (images, labels) in data.items()}
    check_splits(data, train_counts, test_counts, r"check 'dtype\('int64'\)': label: int32")


def test_splits_frame_rejects_wrong_shapes():
    data, _, _ = splits()
    images, labels = data["train"]
    with pytest.raises(
        ContractError, match=r"train images must have shape \(N, 8, 8\), got \(40, 64\)"
    ):
        schemas.splits_frame({"train": (images.reshape(40, 64), labels)})
    with pytest.raises(ContractError, match=r"labels must have shape \(40,\), got \(39,\)"):
        schemas.splits_frame({"train": (images, labels[:-1])})


# ---- what mutation testing (mutmut 3.8) found untested: strict and ordered columns, the splits'
# own pixel and split checks, the report's names and counts, and the shuffle check's arithmetic


@pytest.mark.parametrize("which", ["raw", "normalized", "splits"])
def test_every_schema_refuses_an_extra_column_and_a_reordered_one(which):
    if which == "splits":
        data, train_counts, test_counts = splits()
        frame, schema = schemas.splits_frame(data), schemas.splits_schema(train_counts, test_counts)
    else:
        frame = raw_frame() if which == "raw" else normalized_frame()
        schema = schemas.RAW if which == "raw" else schemas.NORMALIZED
    head = rf"^stage 'unit': {which} data \({len(frame):,} rows\) violates the contract:\n"
    reject(frame.assign(note="x"), schema, head + rf"  - check 'column_in_schema': {which}: note$")
    moved = frame[["label"] + [c for c in frame.columns if c != "label"]]
    reject(moved, schema, head + r"  - check 'column_ordered'")


def test_a_missing_pixel_column_is_named_with_the_ones_found():
    frame = normalized_frame().drop(columns=["pixel_0_1"])
    message = reject(frame, schemas.NORMALIZED, r"column_in_dataframe")
    assert (
        "  - check '64 pixel columns pixel_<row>_<col>': pixel columns "
        "['pixel_0_0', 'pixel_0_2', 'pixel_0_3']... (63), want 64"
    ) in message.splitlines()


def test_the_report_quotes_five_offenders_and_counts_the_rest():
    frame = normalized_frame()
    # seven cells
    frame.loc[:6, "pixel_4_4"] = 1.5
    message = reject(frame, schemas.NORMALIZED, r"in_range")
    (line,) = [row for row in message.splitlines() if "in_range" in row]
    assert line == (
        "  - check 'in_range(0.0, 1.0)': pixel_4_4[0]=1.5; pixel_4_4[1]=1.5; pixel_4_4[2]=1.5; "
        "pixel_4_4[3]=1.5; pixel_4_4[4]=1.5 (+2 more)"
    )
    frame = normalized_frame()
    # five: all shown, nothing more
    frame.loc[:4, "pixel_4_4"] = 1.5
    assert reject(frame, schemas.NORMALIZED, r"in_range").endswith("pixel_4_4[4]=1.5")


def test_a_whole_frame_check_counts_its_offenders_beyond_five():
    data, train_counts, test_counts = splits()
    # seven digits short of what params say
    test_counts = [3] * 7 + test_counts[7:]
    message = check_splits(data, train_counts, test_counts, r"per-class counts")
    assert message.splitlines()[1] == (
        "  - check 'per-class counts as params say': test digit 0: 2 images, params say 3; "
        "test digit 1: 2 images, params say 3; test digit 2: 2 images, params say 3; "
        "test digit 3: 2 images, params say 3; test digit 4: 2 images, params say 3 (+2 more)"
    )


def test_a_digit_missing_from_a_split_counts_as_none():
    data, train_counts, test_counts = splits()
    images, labels = data["test"]
    keep = labels != 9
    data["test"] = (images[keep], labels[keep])
    check_splits(
        data, train_counts, test_counts, r"'per-class counts as params say': test digit 9: 0 images"
    )


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda f: f.assign(split=f["split"].where(f.index != 3, "valid")), r"isin\("),
        (lambda f: f.assign(split=f["split"].where(f.index != 3, None)), r"not_nullable': split"),
        (lambda f: f.assign(pixel_0_0=f["pixel_0_0"].where(f.index != 3, 2.0)), r"in_range"),
        (
            lambda f: f.assign(pixel_0_0=f["pixel_0_0"].where(f.index != 3, 1 / 32)),
            r"check 'multiple of 1/16': pixel_0_0\[3\]=0\.03125",
        ),
        (
            lambda f: f.assign(pixel_0_0=f["pixel_0_0"].astype("float64")),
            r"check 'dtype\('float32'\)': pixel_0_0: float64$",
        ),
    ],
)
def test_the_splits_check_their_split_column_and_pixels(change, match):
    data, train_counts, test_counts = splits()
    frame = change(schemas.splits_frame(data))
    reject(frame, schemas.splits_schema(train_counts, test_counts), match)


@pytest.mark.parametrize(
    "counts, chance",
    [
        # 2 orders, both grouped
        ([1, 1], 1.0),
        # 2 of the 6 orders of AABB are grouped
        ([2, 2], 1 / 3),
        # an absent digit changes nothing
        ([0, 2, 2, 0], 1 / 3),
        # ABB, BBA of ABB, BAB, BBA
        ([1, 2], 2 / 3),
        ([3], 1.0),
    ],
)
def test_grouped_chance_is_the_share_of_orders_grouped_by_class(counts, chance):
    assert schemas.grouped_chance(counts) == pytest.approx(chance, rel=1e-12)


def test_each_split_is_checked_for_a_shuffle_in_frame_order():
    # test, one image per digit, is exempt; train, grouped, is not: the exempt split must not end
    # the check, and both grouped splits are named in the frame's own order
    data, train_counts, test_counts = splits(per_class_train=4, per_class_test=1)
    images, labels = data["train"]
    order = np.argsort(labels, kind="stable")
    data = {"test": data["test"], "train": (images[order], labels[order])}
    check_splits(data, train_counts, test_counts, r"train labels are grouped by class")
    data, train_counts, test_counts = splits(per_class_train=4, per_class_test=4)
    for name in ("train", "test"):
        images, labels = data[name]
        order = np.argsort(labels, kind="stable")
        data[name] = (images[order], labels[order])
    message = check_splits(data, train_counts, test_counts, r"grouped by class")
    assert message.endswith(
        "  - check 'labels shuffled, not grouped by class': train labels are grouped by class "
        "(10 runs), not shuffled; test labels are grouped by class (10 runs), not shuffled"
    )


def test_to_frame_refuses_images_that_are_not_8x8_or_64():
    with pytest.raises(
        ContractError, match=r"^images must have shape \(N, 8, 8\) or \(N, 64\), got \(10, 8, 9\)$"
    ):
        schemas.to_frame(np.zeros((10, 8, 9), np.float32), np.zeros(10, np.int64))


def test_an_unknown_schema_name_is_an_attribute_error_naming_it():
    with pytest.raises(
        AttributeError, match=r"^module 'pipeline.schemas' has no attribute 'RAWW'$"
    ):
        schemas.RAWW  # noqa: B018


def test_the_report_lists_the_failed_checks_in_the_order_pandera_ran_them():
    frame = normalized_frame()
    frame.loc[2, "pixel_1_1"] = np.nan
    frame.loc[3, "pixel_1_2"] = 1.5
    frame.loc[4, "pixel_1_3"] = 1 / 32
    message = reject(frame, schemas.NORMALIZED, r"not_nullable")
    assert message.splitlines() == [
        "stage 'unit': normalized data (40 rows) violates the contract:",
        "  - check 'not_nullable': pixel_1_1[2]=nan",
        "  - check 'in_range(0.0, 1.0)': pixel_1_2[3]=1.5",
        "  - check 'multiple of 1/16': pixel_1_3[4]=0.03125",
    ]


def test_a_float32_cell_is_quoted_as_float32_prints_it_and_one_more_is_counted():
    frame = normalized_frame()
    frame["pixel_2_2"] = frame["pixel_2_2"].astype(np.float32)
    # six cells off the 1/16 grid
    frame.loc[:5, "pixel_2_2"] = np.float32(0.1)
    message = reject(frame, schemas.NORMALIZED, r"multiple of 1/16")
    assert message.splitlines()[-1] == (
        "  - check 'multiple of 1/16': pixel_2_2[0]=0.1; pixel_2_2[1]=0.1; pixel_2_2[2]=0.1; "
        "pixel_2_2[3]=0.1; pixel_2_2[4]=0.1 (+1 more)"
    )


def test_splits_frame_refuses_8x9_images_by_split():
    data, _, _ = splits()
    images, labels = data["train"]
    with pytest.raises(
        ContractError, match=r"^train images must have shape \(N, 8, 8\), got \(40, 8, 9\)$"
    ):
        schemas.splits_frame({"train": (np.zeros((40, 8, 9), np.float32), labels)})
