"""The similarity section of ``make bench``: planted copies among independent students, found with LSH.

A synthetic class: the golden, mistaken and attacking submissions, and independent students who each compose
their own notebooks question by question (a catalogued answer, or a generated variation with its own literals,
idioms and lines of its own, such as a print with the student's own words), and planted copies of some of them:
the same answers with the student's own variable names renamed, independent statements swapped, every comment
replaced and the formatting changed. :func:`grading.similarity.similar_pairs` ranks the class; a planted pair
counts when it ranks above every pair of independent students. Copies of crafted students (the solution but for
one catalogued mistake, which many students hand in anyway) are planted too and ranked apart: no method that
leaves out what many students share can tell them from two students who wrote the common answers. Nothing in
``grading.similarity`` knows this generator: its thresholds are argued there from what a real class looks like.
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import random
import re
import time
import tokenize
from collections.abc import Callable, Collection

import nbformat
import pandas as pd
from pyspark.sql import SparkSession

from bench.class_grading import ANSWER_VARIANTS
from grading import attacks
from grading.course import ASSIGNMENT, grade_id
from grading.golden import GOLDEN, Crafted, make_submission, solution_answers
from grading.mistakes import MISTAKES, submissions
from grading.similarity import answer_cells, baseline_code, similar_pairs
from helpers.config import PROJECT_ROOT, SEED

RELEASE = PROJECT_ROOT / "release" / ASSIGNMENT
#: Independent students in the class whose ranking is measured, and planted copies among them.
CLASS_SIZE, CLASS_COPIES = 300, 30
#: Planted copies of crafted students, measured apart: their answers are the solution but for one catalogued
#: mistake, answers many students give anyway, so a copy of one shares nothing unusual with it.
CRAFTED_COPIES = 5
#: The scale run: this many submissions in all, of which LARGE_COPIES are planted copies.
LARGE_SIZE, LARGE_COPIES = 10_000, 200
#: How often an independent student hands in a catalogued answer (the solution, a mistake, a variant, an
#: attack) rather than one of the generated variations, skips a question, or adds a line of their own to it.
CATALOGUED, SKIPPED, OWN_LINE = 0.25, 0.05, 0.4

#: The words of a student's own prints and comments.
WORDS = re.findall(
    r"\S+",
    "all done embedded images vectors shape check rows first few the of now ok table query neighbours "
    "found model fitted hashes loaded saved resized sanity count nearest features csv spark frame dims result "
    "looks good here quick test step finished columns picked random image expected got size length",
)


def _words(r: random.Random) -> str:
    return " ".join(r.choice(WORDS) for _ in range(r.randint(2, 4)))


def _name(r: random.Random, *choices: str) -> str:
    return r.choice(choices)


def _q1(r: random.Random) -> str:
    n, im = _name(r, "name", "n", "fname", "file_name", "image_name"), _name(r, "image", "img", "im", "photo")
    mkdir = r.choice(
        [
            "LAB.resized_dir.mkdir(parents=True, exist_ok=True)",
            "os.makedirs(LAB.resized_dir, exist_ok=True)",
            "Path(LAB.resized_dir).mkdir(exist_ok=True, parents=True)",
        ]
    )
    quality = r.choice(["", ", quality=95", f", quality={r.choice([85, 90, 92, 98, 100])}"])
    save = r.choice([f", format='JPEG'{quality}", f", 'JPEG'{quality}", quality])
    resize = r.choice(
        [
            f"T.Resize((224, 224))({im}.convert('RGB'))",
            f"{im}.convert('RGB').resize((224, 224))",
            f"{im}.convert('RGB').resize((224, 224), Image.{r.choice(['BILINEAR', 'BICUBIC', 'LANCZOS'])})",
        ]
    )
    head = "import os\n" if mkdir.startswith("os.") else ""
    if r.random() < 0.5:
        return (
            f"{head}{mkdir}\nfor {n} in LAB.image_names:\n    with Image.open(LAB.image_dir / {n}) as {im}:\n"
            f"        {resize}.save(LAB.resized_dir / {n}{save})\n"
        )
    return (
        f"{head}def resize_one({n}):\n    {im} = Image.open(LAB.image_dir / {n})\n"
        f"    {resize}.save(LAB.resized_dir / {n}{save})\n\n{mkdir}\n"
        + r.choice([f"for {n} in LAB.image_names:\n    resize_one({n})\n", "list(map(resize_one, LAB.image_names))\n"])
    )


def _q2(r: random.Random) -> str:
    mean, std = "[0.485, 0.456, 0.406]", "[0.229, 0.224, 0.225]"
    if r.random() < 0.5:
        mean, std = f"mean={mean}", f"std={std}"
    size = r.choice(["(224, 224)", "[224, 224]", "(224,224)"])
    steps = [f"T.Resize({size})", "T.ToTensor()", f"T.Normalize({mean}, {std})"]
    head = r.choice(
        [
            "        model.fc = torch.nn.Identity()\n        self.model = model.eval()\n",
            "        model.fc = nn.Identity()\n        model.eval()\n        self.model = model\n",
            "        self.model = torch.nn.Sequential(*list(model.children())[:-1]).eval()\n",
        ]
    )
    imports = "from torch import nn\n" if "nn.Identity()\n        model" in head else ""
    grad = r.choice(["torch.no_grad()", "torch.inference_mode()"])
    batch = r.choice(["unsqueeze(0)", "unsqueeze(dim=0)", "[None]"])
    batch = batch if batch.startswith("[") else f".{batch}"
    out = r.choice(
        ["[0].numpy()", ".squeeze().numpy()", ".flatten().numpy()", ".reshape(-1).numpy()", "[0].cpu().numpy()"]
    )
    attribute = _name(r, "transform", "prep", "preprocess", "tf", "pipeline")
    return (
        f"{imports}class C:\n    def __init__(self, model):\n{head}"
        f"        self.{attribute} = T.Compose([{', '.join(steps)}])\n\n"
        f"    def get_vec(self, image):\n        x = self.{attribute}(image.convert('RGB')){batch}\n"
        f"        with {grad}:\n            return self.model(x){out}\n"
    )


def _q3(r: random.Random) -> str:
    e, n = _name(r, "embedder", "c", "emb", "model_c", "encoder"), _name(r, "name", "n", "f", "img_name")
    names = r.choice(["list(LAB.image_names)", f"[{n} for {n} in LAB.image_names]", "LAB.image_names[:]"])
    one = f"{e}.get_vec(Image.open(INPUT_DIR / {n}))"
    stack = r.choice(["np.stack", "np.array", "np.vstack"])
    if r.random() < 0.5:
        body = f"vectors = {stack}([{one} for {n} in names])\n"
    else:
        rows = _name(r, "rows", "vecs", "out", "result", "embeddings")
        body = f"{rows} = []\nfor {n} in names:\n    {rows}.append({one})\nvectors = {stack}({rows})\n"
    return f"{e} = C(resnet)\nnames = {names}\n{body}"


def _q4(r: random.Random) -> str:
    i = _name(r, "i", "k", "j", "d")
    label = r.choice(["v", "f", "dim_", "x", "e", "feature_"])
    columns = r.choice(
        [
            f"[f'{label}{{{i}}}' for {i} in range(vectors.shape[1])]",
            f"[f'{label}{{{i}}}' for {i} in range({r.choice([512, 'len(vectors[0])'])})]",
        ]
    )
    t = _name(r, "table", "frame", "out", "emb_df", "pdf")
    if r.random() < 0.5:
        build = f"{t} = pd.DataFrame(vectors, columns={columns})\n{t}.insert(0, 'image', names)\n"
    else:
        build = (
            f"{t} = pd.DataFrame({{'image': names}})\n"
            f"{t} = pd.concat([{t}, pd.DataFrame(vectors, columns={columns})], axis=1)\n"
        )
    return f"{build}{t}.to_csv(LAB.embeddings_csv, index=False)\n"


def _q5(r: random.Random) -> str:
    path = r.choice(["str(EMBEDDINGS_CSV)", "EMBEDDINGS_CSV.as_posix()", "f'{EMBEDDINGS_CSV}'"])
    truth = r.choice(["True", "'true'"])
    return r.choice(
        [
            f"df = spark.read.csv({path}, header={truth}, inferSchema={truth})\n",
            f"df = spark.read.option('header', {truth}).option('inferSchema', {truth}).csv({path})\n",
            f"df = spark.read.format('csv').options(header={truth}, inferSchema={truth}).load({path})\n",
            f"df = (spark.read\n      .option('inferSchema', {truth})\n      .option('header', {truth})\n"
            f"      .csv({path}))\n",
        ]
    )


def _q6(r: random.Random) -> str:
    c = _name(r, "c", "col", "name", "column")
    columns = r.choice(
        [
            f"[{c} for {c} in df.columns if {c} != 'image']",
            "df.columns[1:]",
            f"[{c} for {c} in df.columns if {c}.startswith('v')]",
        ]
    )
    raw = r.choice(["raw_features", "raw", "vec", "unnormalized", "embedding"])
    assembler = f"VectorAssembler(inputCols={columns}, outputCol='{raw}')"
    normalizer = f"Normalizer(inputCol='{raw}', outputCol='features', p={r.choice(['2.0', '2', '2.'])})"
    if r.random() < 0.5:
        return (
            f"assembler = {assembler}\nnormalizer = {normalizer}\n"
            "assembled = normalizer.transform(assembler.transform(df))\n"
        )
    return (
        f"from pyspark.ml import Pipeline\npipeline = Pipeline(stages=[{assembler}, {normalizer}])\n"
        "assembled = pipeline.fit(df).transform(df)\n"
    )


def _q7(r: random.Random) -> str:
    arguments = [
        "inputCol='features'",
        "outputCol='hashes'",
        "bucketLength=BUCKET_LENGTH",
        "numHashTables=NUM_HASH_TABLES",
        "seed=SEED",
    ]
    r.shuffle(arguments)
    lsh = f"BucketedRandomProjectionLSH({', '.join(arguments)})"
    if r.random() < 0.5:
        return f"model = {lsh}.fit(assembled)\n"
    b = _name(r, "brp", "lsh", "estimator", "hasher")
    return f"{b} = {lsh}\nmodel = {b}.fit(assembled)\n"


def _q8(r: random.Random) -> str:
    return r.choice(
        [
            "hashed = model.transform(assembled)\n",
            "hashed = model.transform(assembled).cache()\n",
            "hashed = model.transform(assembled)\nhashed.cache()\n",
            "hashed = model.transform(assembled).persist()\n",
        ]
    )


def _q9(r: random.Random) -> str:
    g = _name(r, "rng", "gen", "generator", "rand")
    return r.choice(
        [
            "query_image = random.Random(SEED).choice(LAB.image_names)\n",
            f"{g} = random.Random(SEED)\nquery_image = {g}.choice(LAB.image_names)\n",
            f"{g} = random.Random(SEED)\nquery_image = LAB.image_names[{g}.randrange(len(LAB.image_names))]\n",
            f"{g} = random.Random(SEED)\nquery_image = {g}.sample(list(LAB.image_names), 1)[0]\n",
        ]
    )


def _q10(r: random.Random) -> str:
    match = r.choice(["hashed['image'] == query_image", "hashed.image == query_image", "col('image') == query_image"])
    head = "from pyspark.sql.functions import col\n" if match.startswith("col") else ""
    method = r.choice(["filter", "where"])
    pick = r.choice(
        [
            "first()['features']",
            "collect()[0]['features']",
            "head()['features']",
            "select('features').first()[0]",
            "take(1)[0].features",
        ]
    )
    return f"{head}query_vector = hashed.{method}({match}).{pick}\n"


def _q11(r: random.Random) -> str:
    k = r.choice(["5", "K", "k"])
    head = f"{k} = 5\n" if k != "5" else ""
    call = r.choice(
        [
            f"model.approxNearestNeighbors(hashed, query_vector, {k})",
            f"model.approxNearestNeighbors(dataset=hashed, key=query_vector, numNearestNeighbors={k})",
        ]
    )
    return f"{head}neighbors = {call}\n" + r.choice(["", "neighbors = neighbors.orderBy('distCol')\n"])


def _q12(r: random.Random) -> str:
    w, h = r.choice([12, 14, 15, 16, 18, 20, 22]), r.choice([3, 3.5, 4, 4.5, 5])
    row, ax = _name(r, "row", "r", "nb", "neighbor", "item"), _name(r, "ax", "axis", "a", "panel")
    rows = r.choice(
        ["neighbors.orderBy('distCol').collect()", "neighbors.collect()", "neighbors.toPandas().to_dict('records')"]
    )
    title = r.choice(
        [
            f"{ax}.set_title({row}['image'])",
            f"{ax}.set_title(f\"{{{row}['distCol']:.{r.randint(2, 4)}f}}\")",
            f"{ax}.set_title(CAPTIONS.get({row}['image'], ''), fontsize={r.choice([7, 8, 9, 10])})",
        ]
    )
    off = r.choice([f"    {ax}.axis('off')\n", f"    {ax}.set_xticks([])\n    {ax}.set_yticks([])\n", ""])
    return (
        f"rows = {rows}\nfig, axes = plt.subplots(1, {r.choice(['5', 'len(rows)'])}, figsize=({w}, {h}))\n"
        f"for {ax}, {row} in zip(axes, rows):\n    {ax}.imshow(Image.open(LAB.image_dir / {row}['image']))\n"
        f"    {title}\n{off}" + r.choice(["", "plt.tight_layout()\n", "fig.tight_layout()\n", "plt.show()\n"])
    )


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    f"q{n}_answer": f for n, f in enumerate((_q1, _q2, _q3, _q4, _q5, _q6, _q7, _q8, _q9, _q10, _q11, _q12), start=1)
}
#: What a student might print or check after each question, about the name that question binds.
CHECKED = {
    "q1_answer": "len(list(LAB.resized_dir.iterdir()))",
    "q2_answer": "C(resnet).get_vec(Image.open(INPUT_DIR / LAB.image_names[0])).shape",
    "q3_answer": "vectors.shape",
    "q4_answer": "LAB.embeddings_csv",
    "q5_answer": "df.count()",
    "q6_answer": "assembled.columns",
    "q7_answer": "model.getNumHashTables()",
    "q8_answer": "hashed.count()",
    "q9_answer": "query_image",
    "q10_answer": "query_vector[:5]",
    "q11_answer": "neighbors.count()",
    "q12_answer": "len(fig.axes)",
}


def _own_line(r: random.Random, grade: str) -> str:
    """A line of the student's own: a print or a check in their own words."""
    checked = CHECKED[grade]
    return r.choice(
        [
            f"print('{_words(r)}', {checked})\n",
            f"print(f'{_words(r)}: {{{checked}}}')\n",
            f"assert {checked}, '{_words(r)}'\n",
            f"print('{_words(r)}')\n",
        ]
    )


def _crafted_answers(crafted: Crafted) -> dict[str, str]:
    return answer_cells(make_submission(RELEASE, crafted))


def crafted_students() -> dict[str, dict[str, str]]:
    """The golden, mistaken and answer-based attack submissions, as students (name -> answers)."""
    crafted = {
        **GOLDEN,
        **submissions(),
        **attacks.SHORTCUTS,
        **attacks.MISBEHAVING,
        "callbacks": attacks.CALLBACKS,
        "borrowed_names": attacks.borrowed_names(RELEASE),
        "patched_lab": attacks.PATCHED_LAB,
        "tampering": attacks.TAMPERING,
        "garbage_evidence": attacks.GARBAGE_EVIDENCE,
    }
    return {f"crafted_{name}": _crafted_answers(submission) for name, submission in crafted.items()}


def catalogue() -> dict[str, list[str]]:
    """Every written-down answer of each question: the solution, mistakes, variants, golden and attack answers."""
    found: dict[str, list[str]] = {grade: [code] for grade, code in solution_answers().items()}
    written = [mistake.answers for mistake in MISTAKES]
    written += [{grade: code} for grade, code, _ in ANSWER_VARIANTS]
    written += [c.answers for c in (*GOLDEN.values(), *attacks.SHORTCUTS.values(), *attacks.MISBEHAVING.values())]
    written += [
        attacks.CALLBACKS.answers,
        attacks.BORROWED_NAMES,
        attacks.PATCHED_LAB.answers,
        attacks.TAMPERING.answers,
    ]
    for answers in written:
        for grade, code in answers.items():
            if code not in found[grade]:
                found[grade].append(code)
    return found


def _scaffold() -> dict[str, str]:
    """The release's answer cells, and what each keeps after the student's code (``print(vectors.shape)``)."""
    return answer_cells({path.name: nbformat.read(path, as_version=4) for path in sorted(RELEASE.glob("*.ipynb"))})


def independent_student(r: random.Random, pool: dict[str, list[str]], scaffold: dict[str, str]) -> dict[str, str]:
    """One student's own composition: per question a catalogued or generated answer, or the untouched cell."""
    answers = {}
    for grade, release_cell in scaffold.items():
        if r.random() < SKIPPED:
            answers[grade] = release_cell
            continue
        code = r.choice(pool[grade]) if r.random() < CATALOGUED else GENERATORS[grade](r)
        code = code if code.endswith("\n") else code + "\n"
        if r.random() < OWN_LINE:
            code += _own_line(r, grade)
        kept = release_cell.split("raise NotImplementedError()", 1)[-1].strip()
        if kept and kept not in code and r.random() < 0.9:
            code += kept + "\n"
        answers[grade] = code
    return answers


def _required(scaffold: dict[str, str]) -> set[str]:
    """Names the release's other cells read (the test cells' ``vectors``, ``model``): a copier keeps them."""
    names = set()
    for path in sorted(RELEASE.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and grade_id(cell) not in scaffold:
                names |= {node.id for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Name)}
    for source in scaffold.values():  # the lines kept after the answer, `print(vectors.shape)`
        try:
            names |= {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
        except SyntaxError:
            continue
    return names


class _Rename(ast.NodeTransformer):
    """What an editor's rename does: the variable everywhere, never an attribute or a keyword argument."""

    def __init__(self, mapping: dict[str, str], methods: set[int]) -> None:
        self.mapping, self.methods = mapping, methods

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.mapping.get(node.arg, node.arg)
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        if id(node) not in self.methods:  # get_vec, __init__: the class's attributes
            node.name = self.mapping.get(node.name, node.name)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.alias:
        node.asname = node.asname and self.mapping.get(node.asname, node.asname)
        return node

    def visit_Global(self, node: ast.Global) -> ast.Global:
        node.names = [self.mapping.get(name, name) for name in node.names]
        return node


def _reads_writes(statement: ast.stmt) -> tuple[set[str], set[str]]:
    reads, writes = set(), set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else writes).add(node.id)
        elif isinstance(node, ast.alias):
            writes.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Attribute | ast.Subscript) and not isinstance(node.ctx, ast.Load):
            base = node
            while isinstance(base, ast.Attribute | ast.Subscript):
                base = base.value
            if isinstance(base, ast.Name):
                writes.add(base.id)  # `model.fc = ...` changes model
    return reads, writes


def _independent(first: ast.stmt, second: ast.stmt) -> bool:
    """Two assignments or imports that neither read nor write what the other writes: their order is free."""
    simple = ast.Assign | ast.AnnAssign | ast.Import | ast.ImportFrom
    if not (isinstance(first, simple) and isinstance(second, simple)):
        return False
    (reads_1, writes_1), (reads_2, writes_2) = _reads_writes(first), _reads_writes(second)
    return not (writes_1 & (reads_2 | writes_2) or writes_2 & reads_1)


def _swap_independent(body: list[ast.stmt], r: random.Random) -> int:
    swaps, position = 0, 0
    while position + 1 < len(body):
        if _independent(body[position], body[position + 1]) and r.random() < 0.7:
            body[position], body[position + 1] = body[position + 1], body[position]
            swaps += 1
            position += 2
        else:
            position += 1
    for statement in body:
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(statement, field, None), list):
                swaps += _swap_independent(getattr(statement, field), r)
    return swaps


def _reformat(code: str, r: random.Random) -> str:
    """The same code with other spaces, blank lines and comments (never inside a string)."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            found.append(token)
    except (tokenize.TokenError, SyntaxError):
        return code
    inside = {}  # row -> columns covered by strings
    starts, ends = set(), set()
    for token in found:
        if token.type == tokenize.STRING:
            for row in range(token.start[0], token.end[0] + 1):
                first = token.start[1] if row == token.start[0] else 0
                last = token.end[1] if row == token.end[0] else 10**9
                inside.setdefault(row, []).append((first, last))
        elif token.type == tokenize.NEWLINE:
            ends.add(token.start[0])
    previous = tokenize.NEWLINE
    for token in found:
        if previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT) and token.type not in (
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.NL,
            tokenize.COMMENT,
        ):
            starts.add(token.start[0])
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    lines = []
    for row, text in enumerate(code.splitlines(), start=1):
        spans = inside.get(row, [])
        if any(first == 0 and last >= len(text) for first, last in spans) and row not in starts:
            lines.append(text)  # the inside of a multi-line string
            continue
        out = []
        for column, char in enumerate(text):
            if any(first <= column < last for first, last in spans):
                out.append(char)
            elif char == "," and r.random() < 0.3:
                out.append(", ")  # one more space after a comma (or a space where there was none)
            elif char == "(" and r.random() < 0.2:
                out.append("( ")
            elif char == " " and out and out[-1] == "=" and r.random() < 0.3:
                continue
            else:
                out.append(char)
        line = "".join(out)
        indent = line[: len(line) - len(line.lstrip())]
        if row in starts and r.random() < 0.2:
            lines.append("")
        if row in starts and r.random() < 0.25:
            lines.append(f"{indent}# {_words(r)}")
        if row in ends and r.random() < 0.25:
            line += f"  # {_words(r)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def planted_copy(answers: dict[str, str], r: random.Random, required: set[str]) -> dict[str, str]:
    """A copy made to hide: own names renamed, independent statements swapped, comments and formatting new."""
    trees = {}
    for grade, source in answers.items():
        try:
            trees[grade] = ast.parse(source)
        except SyntaxError:
            continue
    methods = {
        id(item)
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for item in node.body
    }
    bound = set()
    for node in (node for tree in trees.values() for node in ast.walk(tree)):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef) and id(node) not in methods:
            bound.add(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
    prefixes, suffixes = ("my_", "the_", "tmp_", "x_", ""), ("2", "_", "_new", "_x", "s")
    taken = {node.id for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.Name)} | bound
    mapping = {}
    for name in sorted(bound - required - {"self"}):
        new = f"{r.choice(prefixes)}{name}{r.choice(suffixes)}"
        while new in taken or keyword.iskeyword(new):  # `i` + `s` would be `is`
            new = f"{r.choice(prefixes)}{new}{r.choice(suffixes)}"
        mapping[name] = new
        taken.add(new)
    copy = {}
    for grade, source in answers.items():
        if grade not in trees:
            copy[grade] = re.sub(r"#.*", f"# {_words(r)}", source)  # cannot parse: only its comments change
            continue
        tree = _Rename(mapping, methods).visit(trees[grade])
        _swap_independent(tree.body, r)
        copy[grade] = _reformat(ast.unparse(tree), r)
    return copy


def synthetic_class(
    size: int, copies: int, seed: int = SEED, crafted_copies: int = CRAFTED_COPIES
) -> tuple[dict[str, dict[str, str]], set[tuple[str, str]], set[tuple[str, str]]]:
    """``size`` students in all: the crafted ones, independent ones and planted copies: ``copies`` of
    independent students (each of a different one), then ``crafted_copies`` of crafted ones. Returns the
    answers and both sets of planted pairs (sorted names).
    """
    r = random.Random(seed)
    pool, scaffold = catalogue(), _scaffold()
    students = crafted_students()
    crafted = sorted(students)
    for number in range(size - copies - crafted_copies - len(students)):
        students[f"student{number:05d}"] = independent_student(r, pool, scaffold)
    required = _required(scaffold)
    independent = sorted(set(students) - set(crafted))
    planted: tuple[set[tuple[str, str]], set[tuple[str, str]]] = (set(), set())
    sources = [(0, name) for name in r.sample(independent, copies)]
    sources += [(1, name) for name in r.sample(crafted, crafted_copies)]
    for number, (kind, source) in enumerate(sources):
        name = f"copy{number:05d}"
        students[name] = planted_copy(students[source], r, required)
        planted[kind].add(tuple(sorted((source, name))))
    return students, *planted


def ranking(pairs: pd.DataFrame, planted: set[tuple[str, str]], other_copies: Collection[tuple[str, str]] = ()) -> dict:
    """How the planted pairs rank: found, and above every pair of two independent students (``other_copies``,
    planted pairs measured apart, are neither).
    """
    kinds = [(a, b) in planted or (a, b) in other_copies for a, b in zip(pairs.student_a, pairs.student_b)]
    independent = pairs.similarity[[not copied for copied in kinds]]
    ceiling = float(independent.max()) if len(independent) else 0.0
    found = {(a, b): s for a, b, s in zip(pairs.student_a, pairs.student_b, pairs.similarity) if (a, b) in planted}
    planted_similarities = [found.get(pair, 0.0) for pair in planted]
    return {
        "planted_found": sum(pair in found for pair in planted) / len(planted),
        "planted_ranked_above_every_independent_pair": sum(s > ceiling for s in planted_similarities) / len(planted),
        "planted_similarity_min": min(planted_similarities),
        "independent_pairs_reported": len(independent),
        "independent_similarity_max": ceiling,
    }


def measure_similarity(
    spark: SparkSession,
    class_size: int = CLASS_SIZE,
    copies: int = CLASS_COPIES,
    large_size: int = LARGE_SIZE,
    large_copies: int = LARGE_COPIES,
) -> dict:
    """Planted copies among ``class_size`` independent students, and the time to compare ``large_size`` submissions."""
    baseline = baseline_code(PROJECT_ROOT)
    students, planted, of_crafted = synthetic_class(class_size + copies + CRAFTED_COPIES, copies)
    started = time.perf_counter()
    pairs = similar_pairs(spark, students, baseline)
    seconds = time.perf_counter() - started
    result = {
        "master": spark.sparkContext.master,
        "students": len(students),
        "independent_students": len(students) - len(planted) - len(of_crafted),
        "planted_pairs": len(planted),
        "seconds": seconds,
        "pairs_found": len(pairs),
        **ranking(pairs, planted, of_crafted),
        # Copies of a crafted student (the solution with one catalogued mistake): nothing of their own to show.
        "copies_of_crafted": ranking(pairs, of_crafted, planted),
    }
    large, large_planted, large_of_crafted = synthetic_class(large_size, large_copies, seed=SEED + 1)
    started = time.perf_counter()
    large_pairs = similar_pairs(spark, large, baseline)
    result["large_submissions"] = len(large)
    result["seconds_large"] = time.perf_counter() - started
    result["pairs_found_large"] = len(large_pairs)
    result["at_large"] = ranking(large_pairs, large_planted, large_of_crafted)
    return result


if __name__ == "__main__":
    from helpers.spark import get_spark

    print(json.dumps(measure_similarity(get_spark("lab5-similarity-bench", "local[2]")), indent=2))
