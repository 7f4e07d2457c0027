import stat

from grading import records


def test_a_record_nbgrader_made_read_only_is_rewritten_and_stays_read_only(tmp_path):
    """Autograded files are 0444 (nbgrader's doing): annotating replaces the record whole, in the same mode."""
    records.update(tmp_path, "1_data_and_transforms.ipynb", {"tests": {}})
    path = tmp_path / records.RECORD
    path.chmod(0o444)
    records.annotate(tmp_path, seconds=12.5)
    assert records.read(tmp_path)["seconds"] == 12.5
    assert records.read(tmp_path)["notebooks"] == {"1_data_and_transforms.ipynb": {"tests": {}}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert [entry.name for entry in tmp_path.iterdir()] == [records.RECORD]  # no temporary file left behind
