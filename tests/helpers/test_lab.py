"""helpers.lab: the run a notebook works on (yours, or the autograder's sample), and the test cells' reset."""

from __future__ import annotations

import builtins
import json
import sys

from helpers import lab
from helpers.config import SEED
from helpers.data import stratified_sample


def test_the_students_run_is_the_seeded_class_balanced_subset(default_dataset, tmp_path, monkeypatch):
    """Without the autograder's sample: LAB_SUBSET images picked with the lab's seed, the lab's seed for the rest."""
    monkeypatch.setenv("LAB_SUBSET", "16")
    run = lab.setup(tmp_path / "lab5_work", default_dataset.root)
    expected = stratified_sample(default_dataset.usable_labels(), 16, SEED)["image"].tolist()
    assert run.image_names == expected and run.seed == SEED and not run.graded
    assert run.work_dir.is_dir() and run.shown(run.resized_dir) == "lab5_work/resized"


def test_the_autograders_sample_sets_the_images_and_the_seed(default_dataset, tmp_path):
    """LAB_GRADING_SAMPLE (here passed directly): exactly its images, in the dataset's order, and its seed."""
    names = default_dataset.usable_labels()["image"].tolist()[::-19][:6]
    (tmp_path / "sample.json").write_text(json.dumps({"images": names, "seed": 4242}))
    run = lab.setup(tmp_path / "lab5_work", default_dataset.root, tmp_path / "sample.json")
    assert sorted(run.image_names) == sorted(names) and run.seed == 4242 and run.graded
    assert "autograder chose" in run.summary() and str(default_dataset.root) not in run.summary()


def test_the_reset_keeps_ipythons_own_names_and_removes_shadowed_builtins(monkeypatch, tmp_path, default_dataset):
    """A variable named ``list`` goes; IPython's get_ipython, which callbacks need between cells, stays."""
    main = vars(sys.modules["__main__"])
    monkeypatch.setitem(main, "list", [1, 2])
    monkeypatch.setitem(main, "get_ipython", lambda: "shell")
    monkeypatch.setattr(builtins, "get_ipython", main["get_ipython"], raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_DATA_DIR", str(default_dataset.root))
    monkeypatch.setattr(lab, "_first_settings", {})  # the settings this test set are the ones to put back
    lab.restore_and_setup()
    assert "list" not in main and main["get_ipython"]() == "shell"
