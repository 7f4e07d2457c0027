"""helpers.data: locating a dataset in its three layouts, reading labels, checking and sampling them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.data import (
    CLASS_NAMES_CSV,
    STANFORD_CSV,
    DatasetError,
    Problem,
    find_dataset,
    read_labels,
    stratified_sample,
)

# Columns as in the lab's CSV: an unnamed index column, the bounding box, Class and image.
STANFORD_HEADER = ",x1,y1,x2,y2,Class,image"


def write_stanford_csv(path: Path, rows: list[tuple[str, int]]) -> Path:
    """A label CSV in the lab's layout (unnamed index + bbox columns + Class + image)."""
    lines = [STANFORD_HEADER] + [f"{i},1,2,30,40,{cls},{name}" for i, (name, cls) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_dataset(
    root: Path, make_image, names: list[str], rows: list[tuple[str, int]] | None, image_dir: Path | None = None
) -> Path:
    """Images ``names`` in ``image_dir`` (default root/cars_train) and, unless rows is None, the Stanford CSV."""
    image_dir = image_dir or root / "cars_train"
    for i, name in enumerate(names):
        make_image(image_dir / name, color=(40 * i % 256, 100, 200))
    if rows is not None:
        root.mkdir(parents=True, exist_ok=True)
        write_stanford_csv(root / STANFORD_CSV, rows)
    return root


NAMES = ["00001.jpg", "00002.jpg", "00003.jpg"]
ROWS = [("00001.jpg", 3), ("00002.jpg", 1), ("00003.jpg", 3)]


def test_find_dataset_original_layout(tmp_path, make_image):
    """Original layout: images in root/cars_train, labels in root/cardatasettrain.csv, class names found."""
    root = build_dataset(tmp_path / "cars", make_image, NAMES, ROWS)
    (root / CLASS_NAMES_CSV).write_text("Class,name\n1,Sedan A\n3,Coupe B\n", encoding="utf-8")
    dataset = find_dataset(root)
    assert dataset.image_dir == root / "cars_train"
    assert dataset.labels_csv == root / STANFORD_CSV
    assert dataset.class_names_csv == root / CLASS_NAMES_CSV
    assert dataset.image_files() == NAMES
    assert dataset.labels()["image"].tolist() == NAMES


def test_find_dataset_kaggle_layout(tmp_path, make_image):
    """Kaggle mirror: images nested in root/cars_train/cars_train, the CSV at the root."""
    root = tmp_path / "kaggle"
    build_dataset(root, make_image, NAMES, ROWS, image_dir=root / "cars_train" / "cars_train")
    dataset = find_dataset(root)
    assert dataset.image_dir == root / "cars_train" / "cars_train"
    assert dataset.labels_csv == root / STANFORD_CSV
    assert dataset.problems() == []
    assert dataset.usable_labels()["image"].tolist() == NAMES


def test_find_dataset_plain_folder_without_csv(tmp_path, make_image):
    """Plain folder of images without a CSV: every image, unlabelled (Class is NA)."""
    root = tmp_path / "plain"
    build_dataset(root, make_image, NAMES, None, image_dir=root)
    dataset = find_dataset(root)
    assert dataset.image_dir == root
    assert dataset.labels_csv is None
    labels = dataset.labels()
    assert labels["image"].tolist() == NAMES
    assert labels["Class"].isna().all()
    assert dataset.problems() == []
    assert dataset.class_names() == {}


def test_find_dataset_plain_folder_with_own_csv(tmp_path, make_image):
    """Plain folder with a differently named CSV that has an image column: that CSV is the labels file."""
    root = tmp_path / "plain"
    build_dataset(root, make_image, NAMES, None, image_dir=root)
    (root / "labels.csv").write_text("image,Class\n00001.jpg,1\n00002.jpg,2\n00003.jpg,2\n", encoding="utf-8")
    dataset = find_dataset(root)
    assert dataset.labels_csv == root / "labels.csv"
    assert dataset.labels()["Class"].tolist() == [1, 2, 2]


def test_find_dataset_errors_name_the_folder(tmp_path):
    """A missing folder or one without images is a DatasetError naming the folder."""
    with pytest.raises(DatasetError, match="no such directory") as missing:
        find_dataset(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(missing.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found") as empty:
        find_dataset(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(empty.value)


def test_read_labels_keeps_only_image_and_class(tmp_path):
    """read_labels returns exactly image and Class (bbox and unnamed index dropped), in file order."""
    csv = write_stanford_csv(tmp_path / STANFORD_CSV, [("00009.jpg", 7), ("00002.jpg", 1), ("00005.jpg", 7)])
    labels = read_labels(csv)
    assert list(labels.columns) == ["image", "Class"]
    assert labels["image"].tolist() == ["00009.jpg", "00002.jpg", "00005.jpg"]
    assert labels["Class"].tolist() == [7, 1, 7]
    assert str(labels["Class"].dtype) == "Int64"


def test_read_labels_image_names_stay_strings(tmp_path):
    """Image names that look like numbers are kept as text (leading zeros intact) and stripped of spaces."""
    csv = tmp_path / "labels.csv"
    csv.write_text("image,Class\n00012, 4\n 00013.jpg ,5\n", encoding="utf-8")
    labels = read_labels(csv)
    assert labels["image"].tolist() == ["00012", "00013.jpg"]
    assert labels["Class"].tolist() == [4, 5]


def test_read_labels_utf8_bom_header(tmp_path):
    """A spreadsheet export with a UTF-8 byte-order mark still has its first column named 'image'."""
    csv = tmp_path / "bom.csv"
    csv.write_bytes("image,Class\n00001.jpg,2\n".encode("utf-8-sig"))
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")
    labels = read_labels(csv)
    assert list(labels.columns) == ["image", "Class"]
    assert labels.loc[0, "image"] == "00001.jpg"


def test_read_labels_missing_column_names_file_and_column(tmp_path):
    """A CSV without the Class column is a DatasetError that names the file and 'Class'."""
    csv = tmp_path / "no_class.csv"
    csv.write_text("image,label\n00001.jpg,2\n", encoding="utf-8")
    with pytest.raises(DatasetError) as error:
        read_labels(csv)
    message = str(error.value)
    assert str(csv) in message
    assert "'Class'" in message
    assert "'image'" not in message.split("(found")[0]  # only the missing column is reported missing


@pytest.mark.parametrize(
    "content, expected",
    [
        ("file,Class\n00001.jpg,2\n", "'image'"),
        ("", "empty"),
    ],
    ids=["no-image-column", "empty-file"],
)
def test_read_labels_unusable_csv_names_file(tmp_path, content, expected):
    """A CSV without the image column, or an empty one, is a DatasetError naming the file and the problem."""
    csv = tmp_path / "labels.csv"
    csv.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=expected) as error:
        read_labels(csv)
    assert str(csv) in str(error.value)


def test_problems_report_each_file(tmp_path, make_image):
    """problems() reports listed-but-missing, present-but-not-listed and duplicate rows, one per file."""
    root = tmp_path / "cars"
    build_dataset(
        root,
        make_image,
        ["00001.jpg", "00002.jpg", "00004.jpg"],
        [("00001.jpg", 1), ("00002.jpg", 2), ("00002.jpg", 5), ("00003.jpg", 1)],
    )
    problems = find_dataset(root).problems()
    assert all(isinstance(problem, Problem) for problem in problems)
    by_file = {problem.file: problem for problem in problems}
    assert set(by_file) == {"00002.jpg", "00003.jpg", "00004.jpg"}
    assert len(problems) == 3
    assert "listed 2 times" in by_file["00002.jpg"].reason and "different classes" in by_file["00002.jpg"].reason
    assert "not found" in by_file["00003.jpg"].reason
    assert "not listed" in by_file["00004.jpg"].reason
    for problem in problems:
        assert STANFORD_CSV in problem.reason
        assert str(problem).startswith(f"{problem.file}: ")


def test_usable_labels_drop_missing_and_duplicates(tmp_path, make_image):
    """usable_labels keeps CSV order, drops rows without a file and keeps the first of duplicate rows."""
    root = tmp_path / "cars"
    build_dataset(
        root,
        make_image,
        ["00001.jpg", "00002.jpg", "00004.jpg"],
        [("00004.jpg", 9), ("00002.jpg", 2), ("00003.jpg", 1), ("00002.jpg", 5), ("00001.jpg", 1)],
    )
    usable = find_dataset(root).usable_labels()
    assert usable["image"].tolist() == ["00004.jpg", "00002.jpg", "00001.jpg"]
    assert usable["Class"].tolist() == [9, 2, 1]
    assert list(usable.index) == [0, 1, 2]


def test_class_names(tmp_path, make_image):
    """class_names maps class numbers to the names in class_names.csv; bad headers are a DatasetError."""
    root = build_dataset(tmp_path / "cars", make_image, NAMES, ROWS)
    (root / CLASS_NAMES_CSV).write_text(
        "Class,name\n1,AM General Hummer SUV 2000\n3,Acura RL Sedan 2012\n", encoding="utf-8"
    )
    assert find_dataset(root).class_names() == {1: "AM General Hummer SUV 2000", 3: "Acura RL Sedan 2012"}
    (root / CLASS_NAMES_CSV).write_text("id,label\n1,x\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=CLASS_NAMES_CSV):
        find_dataset(root).class_names()


def sample_labels() -> pd.DataFrame:
    """30 rows in 4 unbalanced classes (12, 9, 6, 3 images), names in row order."""
    classes = [1] * 12 + [2] * 9 + [3] * 6 + [4] * 3
    classes = [classes[(7 * i) % 30] for i in range(30)]  # interleave the classes
    return pd.DataFrame({"image": [f"{i:05d}.jpg" for i in range(30)], "Class": pd.array(classes, dtype="Int64")})


def test_stratified_sample_is_deterministic():
    """The same seed gives the same sample; the default seed is used when none is given."""
    labels = sample_labels()
    first = stratified_sample(labels, 10)
    pd.testing.assert_frame_equal(first, stratified_sample(labels, 10))
    pd.testing.assert_frame_equal(first, stratified_sample(labels, 10, seed=5))
    assert len(first) == 10


@pytest.mark.parametrize("size", [1, 3, 4, 5, 9, 13, 20])
def test_stratified_sample_is_balanced(size):
    """Every class gets a pick before any class gets a second (counts differ by at most one until a class runs out)."""
    labels = sample_labels()
    sample = stratified_sample(labels, size)
    counts = sample["Class"].value_counts()
    assert len(sample) == size
    assert sample["image"].is_unique
    if size <= 4:
        assert counts.max() == 1
    else:
        assert set(counts.index) == {1, 2, 3, 4}
    available = labels["Class"].value_counts()
    # A class below the top count is one that ran out of images.
    for cls, count in counts.items():
        assert count >= counts.max() - 1 or count == available[cls]


def test_stratified_sample_keeps_original_order():
    """The sampled rows appear in the same relative order as in the input."""
    labels = sample_labels().iloc[::-1].reset_index(drop=True)  # an order that is not sorted by name
    sample = stratified_sample(labels, 11)
    positions = [labels.index[labels["image"] == name][0] for name in sample["image"]]
    assert positions == sorted(positions)
    assert list(sample.index) == list(range(11))


@pytest.mark.parametrize("size", [None, 30, 31, 1000])
def test_stratified_sample_returns_everything(size):
    """Size None or >= the number of rows returns every row, unchanged and in order."""
    labels = sample_labels()
    pd.testing.assert_frame_equal(stratified_sample(labels, size), labels)


def test_stratified_sample_handles_unlabelled_rows():
    """Rows without a class form their own group instead of breaking the sampler."""
    labels = pd.DataFrame(
        {"image": [f"{i}.jpg" for i in range(6)], "Class": pd.array([1, None, 1, None, 2, 2], dtype="Int64")}
    )
    sample = stratified_sample(labels, 3)
    assert len(sample) == 3
    assert sample["Class"].isna().sum() == 1
    assert set(sample["Class"].dropna()) == {1, 2}
