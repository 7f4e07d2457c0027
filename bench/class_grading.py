"""The grading section of ``make bench``: a class graded with 1 and 2 jobs, where the time goes, the sandbox's cost,
the memory one job holds at its peak, and what a sample of unseen images per submission costs against one
sample for the whole run (``--sample-pool 1``).

A synthetic class (the golden submissions plus copies with varied, plausible answers, right and
wrong) is graded twice in one run, sequentially and two at a time, on the same machine; the
scores must agree. One correct submission is also graded with and without the sandbox.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from grading.autograde import ClassRun
from grading.check_service import CheckerManager
from grading.golden import GOLDEN, Crafted
from grading.roundtrip import mismatches, round_trip

#: Other ways to answer, some right and some wrong (question: code). Copies of the solution take turns using them.
ANSWER_VARIANTS: list[tuple[str, str, str | None]] = [
    (
        "q1_answer",
        "LAB.resized_dir.mkdir(parents=True, exist_ok=True)\n"
        "for name in LAB.image_names:\n"
        "    T.Resize((224, 224))(Image.open(LAB.image_dir / name).convert('RGB')).save(LAB.resized_dir / name)\n",
        None,
    ),
    (
        "q2_answer",
        "class C:\n"
        "    def __init__(self, model):\n"
        "        self.model = model.eval()\n"
        "        self.features = {}\n"
        "        model.avgpool.register_forward_hook(lambda m, i, o: self.features.update(v=o))\n"
        "        self.prep = T.Compose([T.Resize((224, 224)), T.ToTensor(),\n"
        "                               T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])\n"
        "    def get_vec(self, image):\n"
        "        with torch.no_grad():\n"
        "            self.model(self.prep(image.convert('RGB'))[None])\n"
        "        return self.features['v'].flatten().numpy()\n",
        None,
    ),
    (
        "q3_answer",
        "embedder = C(resnet)\nnames = sorted(LAB.image_names)\n"
        "vectors = np.array([embedder.get_vec(Image.open(INPUT_DIR / n)) for n in names])\n",
        None,
    ),
    (
        "q5_answer",
        "df = spark.read.option('header', True).option('inferSchema', True).csv(str(EMBEDDINGS_CSV))\n",
        None,
    ),
    ("q9_answer", "query_image = 'not-an-image.jpg'\n", "q9_random_query_image"),
    ("q11_answer", "neighbors = model.approxNearestNeighbors(hashed, query_vector, 4)\n", "q11_five_nearest_neighbors"),
]


def synthetic_class(size: int) -> dict[str, Crafted]:
    """The golden submissions plus copies of the solution, each with two of the variants."""
    submissions = dict(GOLDEN)
    pairs = itertools.cycle(itertools.combinations(range(len(ANSWER_VARIANTS)), 2))
    for number in range(size - len(submissions)):
        chosen = [ANSWER_VARIANTS[i] for i in next(pairs)]
        answers = {question: code for question, code, _ in chosen}
        loses = tuple(grade for _, _, grade in chosen if grade)
        # Q10-Q12 use Q9's image, and Q12 shows Q11's rows: a wrong Q9 or Q11 costs those too.
        if "q9_random_query_image" in loses:
            loses += ("q10_query_vector", "q11_five_nearest_neighbors", "q12_neighbor_figure")
        elif "q11_five_nearest_neighbors" in loses:
            loses += ("q12_neighbor_figure",)
        submissions[f"student{number:03d}"] = Crafted(answers=answers, loses=tuple(dict.fromkeys(loses)))
    return submissions


def breakdown(run: ClassRun) -> dict:
    """Mean seconds per submission by stage, from the timings the grader logs for every notebook."""
    stages = {
        "kernel_start": 0.0,
        "setup_cells": 0.0,
        "answer_cells": 0.0,
        "test_cells": 0.0,
        "checks_outside": 0.0,
        "references": 0.0,
    }
    notebooks_total = 0.0
    for graded in run.graded:
        for line in graded.log.splitlines():
            if "TIMING " not in line:
                continue
            timing = json.loads(line.split("TIMING ", 1)[1])
            notebooks_total += timing["total"]
            stages["kernel_start"] += timing.get("kernel_start", 0.0)
            stages["references"] += timing["prepare"]
            for cell in timing["cells"]:
                name = str(cell["cell"])
                kind = (
                    "setup_cells"
                    if name == "setup"
                    else "answer_cells"
                    if name.endswith("_answer")
                    else "test_cells"
                    if name.startswith("q")
                    else "answer_cells"
                )
                stages[kind] += cell["wall"]
                stages["checks_outside"] += cell["check"]
    count = max(1, len(run.graded))
    result = {stage: seconds / count for stage, seconds in stages.items()}
    result["nbgrader_and_rest"] = sum(g.seconds for g in run.graded) / count - notebooks_total / count
    return result


class ResourceUse:
    """The core-seconds the machine was busy while the block ran, and the largest memory its grading held at once,
    sampled every 0.2 s.

    The machine's view: how far the memory in use (total less available, so page cache that can be dropped
    is left out) rose above where it was when the block began. With ``processes``, also by process: one
    grading job is a worker process, its kernels' fork server, the kernel it runs and that kernel's JVM.
    Their proportional sizes summed (a page shared by n processes counted 1/n in each) count the pages the
    kernel shares with the server it was forked from once: what the job adds to the machine. Their resident
    sizes summed count those pages in both, an upper bound. The run's checker, which every job of a class
    shares, is measured on its own, with the CPU time it used. Reading every process's page map costs CPU
    time, so timed runs sample the machine only.
    """

    def __init__(self, processes: bool = True) -> None:
        self.processes = processes
        self.rss_mb = self.pss_mb = self.checker_rss_mb = self.checker_pss_mb = self.machine_mb = 0.0
        self._checker_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ResourceUse:
        # Only what the block starts: a process already running (the bench's own Spark JVM) is no grading job's.
        self._before = {process.pid for process in psutil.Process().children(recursive=True)}
        self._in_use_before = self._in_use()
        self._busy_before = self._busy()
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.busy_core_seconds = self._busy() - self._busy_before
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()  # of every core; time stolen by the hypervisor is not the machine's work
        return times.user + times.nice + times.system + times.irq + times.softirq

    @property
    def checker_cpu_seconds(self) -> float:
        """CPU time the block's checkers used, as last sampled (to within 0.2 s of their end)."""
        return sum(self._checker_cpu.values())

    @staticmethod
    def _in_use() -> int:
        memory = psutil.virtual_memory()
        return memory.total - memory.available

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.machine_mb = max(self.machine_mb, (self._in_use() - self._in_use_before) / 2**20)
            if self.processes:
                self._sample_processes()

    def _sample_processes(self) -> None:
        children = multiprocessing.active_children()
        checkers = {child.pid for child in children if child.name.startswith(CheckerManager.__name__)}
        job, checker = [0, 0], [0, 0]
        for process in psutil.Process().children(recursive=True):
            if process.pid in self._before:
                continue
            try:
                memory = process.memory_full_info()
                if process.pid in checkers:
                    times = process.cpu_times()
                    self._checker_cpu[process.pid] = times.user + times.system
            except psutil.Error:  # ended between listing and reading
                continue
            total = checker if process.pid in checkers else job
            total[0], total[1] = total[0] + memory.rss, total[1] + memory.pss
        self.rss_mb, self.pss_mb = max(self.rss_mb, job[0] / 2**20), max(self.pss_mb, job[1] / 2**20)
        self.checker_rss_mb = max(self.checker_rss_mb, checker[0] / 2**20)
        self.checker_pss_mb = max(self.checker_pss_mb, checker[1] / 2**20)


def reference_seconds(loops: int = 30_000_000) -> float:
    """Seconds a fixed pure-Python loop takes on one core: how fast this machine is today, since its speed varies
    from one half-hour to the next; grading figures of two runs compare in units of it.
    """
    started = time.process_time()
    total = 0
    for number in range(loops):
        total += number
    return time.process_time() - started


def measure(work: Path, size: int = 24) -> dict:
    """Grade a synthetic class with 1 and with 2 jobs, and one submission with and without the sandbox."""
    submissions = synthetic_class(size)
    speed = [reference_seconds()]
    runs, scores = {}, {}
    machine = {}
    for jobs in (1, 2):
        started = time.perf_counter()
        with ResourceUse(processes=False) as machine[jobs]:
            scores[jobs], runs[jobs] = round_trip(work / f"class-{jobs}", submissions, jobs=jobs)
        print(f"  graded {size} submissions with {jobs} job(s) in {time.perf_counter() - started:.0f} s", flush=True)
    identical = (
        scores[1].sort_values(["student", "grade_id"]).score.tolist()
        == scores[2].sort_values(["student", "grade_id"]).score.tolist()
    )
    solo = {"solution": GOLDEN["solution"]}
    with ResourceUse() as peak:
        sandboxed = round_trip(work / "sandboxed", solo, jobs=1)[1].graded[0].seconds
    # What unseen samples cost: three solutions graded on a sample each, then all three on one.
    trio = {f"solution{number}": GOLDEN["solution"] for number in range(3)}
    own_samples = round_trip(work / "own-samples", trio, jobs=1)[1].seconds / len(trio)
    one_sample = round_trip(work / "one-sample", trio, jobs=1, sample_pool=1)[1].seconds / len(trio)
    bare = round_trip(work / "bare", solo, jobs=1, options=("--SandboxedExecute.sandboxed=False",))[1].graded[0].seconds
    sequential, parallel = runs[1].seconds, runs[2].seconds
    speed.append(reference_seconds())
    return {
        "grading": {
            "submissions": size,
            "seconds_jobs_1": sequential,
            "seconds_jobs_2": parallel,
            "submissions_per_hour_jobs_1": 3600 * size / sequential,
            "submissions_per_hour_jobs_2": 3600 * size / parallel,
            "speedup_2_jobs": sequential / parallel,
            "seconds_per_submission": sequential / size,
            "machine_reference_seconds": speed,  # before and after: reference_seconds()
            # Whatever ran on the machine meanwhile (the bench itself is idle then): with 2 jobs, a submission's
            # work costs more core-seconds than alone if the 2 cores slow each other down.
            "core_seconds_per_submission_jobs_1": machine[1].busy_core_seconds / size,
            "core_seconds_per_submission_jobs_2": machine[2].busy_core_seconds / size,
            "peak_memory_mb_per_job": peak.pss_mb,
            "peak_resident_mb_per_job_summed": peak.rss_mb,
            "peak_memory_mb_checker": peak.checker_pss_mb,
            "peak_resident_mb_checker": peak.checker_rss_mb,
            "machine_memory_mb_jobs_1": machine[1].machine_mb,
            "machine_memory_mb_jobs_2": machine[2].machine_mb,
            "machine_memory_mb_second_job": machine[2].machine_mb - machine[1].machine_mb,
            "checker_cpu_seconds_one_submission": peak.checker_cpu_seconds,
            "seconds_per_submission_own_sample": own_samples,
            "seconds_per_submission_one_sample": one_sample,
            "breakdown_seconds_per_submission": breakdown(runs[1]),
            "scores_identical": identical,
            "scores_as_expected": not mismatches(scores[1], submissions),
        },
        "sandbox": {"sandboxed_s": sandboxed, "unsandboxed_s": bare, "overhead": sandboxed / bare},
    }


def measure_apart(work: Path, size: int = 24) -> dict:
    """:func:`measure` in a process of its own, as ``make autograde`` grades: spawned grading processes import
    their parent's main module, and the bench's imports torch, which no grading job of ``make autograde`` holds.
    """
    result = work / "grading.json"
    command = [sys.executable, "-m", "bench.class_grading", str(work), str(size), str(result)]
    subprocess.run(command, check=True)
    return json.loads(result.read_text())


if __name__ == "__main__":
    folder, class_size, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    out.write_text(json.dumps(measure(folder, class_size)))
