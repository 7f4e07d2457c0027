"""Answers that look copied: every student's answer cells normalised, shingled and paired with MinHashLSH.

Each answer cell is cut into logical lines of tokens: comments, docstrings and formatting are gone, string and
number literals have one spelling (``'RGB'`` is ``"RGB"``, ``2.`` is ``2.0``), and the names the student binds
anywhere in the submission (variables, arguments, functions, classes, import aliases, loop, ``with`` and
comprehension targets) become placeholders; attribute names, keyword arguments and free names (library APIs,
the Setup cells' ``LAB``) stay. A shingle is :data:`SHINGLE_TOKENS` consecutive tokens of one logical line, or
the whole line when it is shorter. Left out, because they show no copying: shingles the release notebooks or
the hand-out's ``helpers`` code already contain (the baseline), and shingles more students share than
:func:`common_limit` allows. Each student is a binary vector over the shingles that are kept, over the whole
notebook series; MinHashLSH's ``approxSimilarityJoin`` proposes pairs, and each pair is ranked by its exact
Jaccard similarity. Nothing here proves copying: the list says which pairs an instructor should read first.
"""

from __future__ import annotations

import ast
import builtins
import copy
import html
import io
import itertools
import keyword
import math
import re
import tokenize
import warnings
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import nbformat
import pandas as pd
from nbgrader.utils import is_solution
from pyspark.ml.feature import CountVectorizer, MinHashLSH
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from grading.course import ASSIGNMENT, grade_id, question_of
from helpers.config import PROJECT_ROOT, SEED
from helpers.store import atomic_write

#: Tokens per shingle. Eight lexical tokens are one short statement (``$0 = $1 . transform ( $2 )``): shorter
#: windows are fragments any two students share by chance (``( $0 ) . numpy ( )``), and longer ones die from
#: a single edited token anywhere in a long line. A shingle never spans two logical lines, so reordering
#: independent lines changes none of them.
SHINGLE_TOKENS = 8
#: A shingle more students share than this share of the class is an idiom of the course or its obvious answer,
#: not a sign of copying: in a class of 10,000 a line written by a hundred students is no evidence about any two
#: of them. The cap also bounds the work: a shingle d students share makes d²/2 candidate pairs.
COMMON_FRACTION = 0.01
#: ... but shingles shared by up to this many students always count, so that in a class of 30 a pair, or a
#: group of up to five who passed the same code around, keeps what they share.
COMMON_FLOOR = 5
#: Pairs below this Jaccard similarity are not reported: independent students in a real class share a few
#: kept shingles by chance; 0.1 still catches copying a quarter of the questions and writing the rest alone.
MIN_SIMILARITY = 0.1
#: Nor are pairs sharing fewer kept shingles than this: two nearly empty submissions sharing their one
#: unusual line would otherwise rank at similarity 1.0. Three shingles are one long line or three short ones.
MIN_SHARED = 3
#: MinHash functions, each an OR-ed table: a pair at MIN_SIMILARITY becomes a candidate with probability
#: 1 - 0.9**30 = 96%, one at 0.2 with 99.9%. Each table costs a pass of the join over the class.
HASH_TABLES = 30
#: A question is listed for a pair when the Jaccard similarity of their kept shingles in it reaches this:
#: they share at least as many of its shingles as the two of them have apart.
QUESTION_SIMILARITY = 0.5
COLUMNS = ["student_a", "student_b", "similarity", "questions"]

_SEPARATOR = "\x1f"  # between a shingle's tokens: no Python token contains it
_BUILTINS = frozenset(dir(builtins))
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
_OPENING, _CLOSING = ("(", "[", "{"), (")", "]", "}")
_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")  # the statement lists a compound statement holds

Token = tuple[str, bool]  # its normalised text, and whether it is a name in a place the student may have chosen


class Line(NamedTuple):
    """One logical line of a cell: its first and last physical rows (from 1) and its tokens."""

    first: int
    last: int
    tokens: tuple[Token, ...]


def _tokenize(text: str) -> tuple[list[tokenize.TokenInfo], bool]:
    """Python's tokens of ``text`` as far as it can go, and whether it went to the end."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            found.append(token)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return found, False
    return found, True


def _is_fstring(kind: int, text: str) -> bool:
    return kind == tokenize.STRING and "f" in re.match(r"\w*", text).group().lower()


def _literal(kind: int, text: str) -> list[tuple[int, str]]:
    """A literal in one spelling; an f-string becomes its pieces, so that names inside it are renamed too."""
    if kind == tokenize.NUMBER or (kind == tokenize.STRING and not _is_fstring(kind, text)):
        try:
            return [(kind, repr(ast.literal_eval(text)))]
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return [(kind, text)]
    if kind == tokenize.STRING:
        try:
            node = ast.parse(text, mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return [(kind, text)]
        if isinstance(node, ast.JoinedStr):
            return [(tokenize.OP, 'f"'), *_joined(node), (tokenize.OP, '"')]
    return [(kind, text)]


def _joined(node: ast.JoinedStr) -> list[tuple[int, str]]:
    pieces = []
    for part in node.values:
        if isinstance(part, ast.FormattedValue):
            inner, _ = _tokenize(ast.unparse(part.value))
            pieces.append((tokenize.OP, "{"))
            pieces += [
                piece
                for token in inner
                if token.type not in _SKIPPED | {tokenize.NEWLINE}
                for piece in _literal(token.type, token.string)
            ]
            if part.conversion != -1:
                pieces.append((tokenize.OP, f"!{chr(part.conversion)}"))
            if isinstance(part.format_spec, ast.JoinedStr):
                pieces += [(tokenize.OP, ":"), *_joined(part.format_spec)]
            pieces.append((tokenize.OP, "}"))
        elif isinstance(part, ast.Constant):
            pieces.append((tokenize.STRING, repr(part.value)))
    return pieces


def _classify(tokens: list[tuple[int, str]]) -> tuple[Token, ...]:
    """Mark the names a student may have chosen: not keywords, attributes, keyword arguments or imported paths."""
    first = tokens[0][1]
    importing = first in ("import", "from")
    defining = first == "def" or [text for _, text in tokens[:2]] == ["async", "def"]
    depth, marked = 0, []
    for position, (kind, text) in enumerate(tokens):
        before = tokens[position - 1][1] if position else ""
        after = tokens[position + 1][1] if position + 1 < len(tokens) else ""
        chosen = kind == tokenize.NAME and not keyword.iskeyword(text) and before != "."
        if importing:
            chosen = chosen and before == "as"  # `import numpy as np`: only the alias is the student's
        elif chosen and after == "=" and depth and before in ("(", ",") and not defining:
            chosen = False  # f(inputCol=...): the callee's parameter, not the student's name
        marked.append((text, chosen))
        depth += (text in _OPENING) - (text in _CLOSING) if kind == tokenize.OP else 0
    return tuple(marked)


def _split(found: Iterable[tokenize.TokenInfo], spelled: bool = False) -> list[Line]:
    """Logical lines of tokens; ``spelled``: ast.unparse wrote them, and only f-strings need taking apart."""
    lines, current, first, last = [], [], 0, 0

    def flush() -> None:
        # A line of nothing but strings is a docstring or a string used as a comment: it goes with the comments.
        if current and any(kind != tokenize.STRING for kind, _ in current):
            literals = [
                piece
                for kind, text in current
                for piece in ([(kind, text)] if spelled and not _is_fstring(kind, text) else _literal(kind, text))
            ]
            lines.append(Line(first, last, _classify(literals)))
        current.clear()

    for token in found:
        if token.type == tokenize.NEWLINE:
            flush()
        elif token.type not in _SKIPPED and token.string.strip():
            if not current:
                first = token.start[0]
            current.append((token.type, token.string))
            last = token.end[0]
    flush()
    return lines


def _token_lines(source: str) -> list[Line]:
    """Logical lines as Python tokenizes them; what it cannot tokenize, one physical line at a time."""
    found, complete = _tokenize(source)
    if complete:
        return _split(found)
    lines = []
    for row, text in enumerate(source.splitlines(), start=1):
        part, _ = _tokenize(text.strip())
        lines += [line._replace(first=row, last=row) for line in _split(part)]
    return lines


def _tree_lines(nodes: Iterable[ast.AST], offset: int = 0) -> list[Line]:
    """One logical line per statement or block header, spelled as ``ast.unparse`` spells it: parentheses,
    line breaks, trailing commas, implicit string concatenation and ``;`` are formatting, and go.
    """
    lines = []
    for node in nodes:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring, or a string used as a comment
        blocks = [field for field in _BLOCKS if isinstance(getattr(node, field, None), list)]
        start = getattr(node, "lineno", None) or node.pattern.lineno  # a match_case has no position of its own
        if not blocks:
            found = _split(_tokenize(ast.unparse(node))[0], spelled=True)
            lines += [line._replace(first=start + offset, last=node.end_lineno + offset) for line in found]
            continue
        header = copy.copy(node)
        for field in blocks:
            setattr(header, field, [])
        if "body" in blocks:  # `for x in y:` unparses with a body only: a `pass`, dropped again
            header.body = [ast.Pass()]
        found = _split(_tokenize(ast.unparse(header))[0], spelled=True)[: -1 if "body" in blocks else None]
        rows = [decorator.lineno for decorator in getattr(node, "decorator_list", [])] + [start]
        rows = rows if len(rows) == len(found) else [start] * len(found)
        lines += [line._replace(first=row + offset, last=row + offset) for line, row in zip(found, rows)]
        for field in blocks:
            lines += _tree_lines(getattr(node, field), offset)
    return lines


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _cell(source: str) -> tuple[list[Line], list[ast.AST]]:
    """A cell's logical lines and syntax trees. A cell that does not parse (a ``%magic``, a typo) is read line by
    line: each line that parses on its own as Python reads it, the others as its tokens.
    """
    with warnings.catch_warnings():
        # Students' "\d" and `1if` make the parser warn on stderr; reading their code must stay quiet.
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _read_cell(source)


def _read_cell(source: str) -> tuple[list[Line], list[ast.AST]]:
    if (tree := _parse(source)) is not None:
        try:
            return _tree_lines(tree.body), [tree]
        except (ValueError, RecursionError):  # a tree ast.unparse cannot write back: read the tokens instead
            return _token_lines(source), [tree]
    rows, lines, trees = source.splitlines(), [], []
    for line in _token_lines(source):
        text = "\n".join(rows[line.first - 1 : line.last]).lstrip()
        if (tree := _parse(text)) is not None:
            lines += _tree_lines(tree.body, line.first - 1)
            trees.append(tree)
            continue
        lines.append(line)
        if (tree := _parse(f"{text}\n    pass")) is not None:  # `for x in y:` parses once it has a body
            trees.append(tree)
    return lines, trees


def _bound_names(trees: Iterable[ast.AST]) -> set[str]:
    """The names these trees bind: assigned, looped over, ``with ... as``, defined, arguments, import aliases."""
    nodes = [node for tree in trees for node in ast.walk(tree)]
    # A method's name is an attribute of its class (``get_vec``, ``__init__``): it stays, like attributes do.
    methods = {id(item) for node in nodes if isinstance(node, ast.ClassDef) for item in node.body}
    names = set()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and id(node) not in methods:
            names.add(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
    return names


def _windows(tokens: tuple[Token, ...]) -> Iterator[tuple[Token, ...]]:
    if len(tokens) <= SHINGLE_TOKENS:
        yield tokens
    else:
        for start in range(len(tokens) - SHINGLE_TOKENS + 1):
            yield tokens[start : start + SHINGLE_TOKENS]


def _shingle(window: tuple[Token, ...], renamed: Collection[str]) -> str:
    """The window's text with the renamed names numbered in order of appearance within it: ``$0``, ``$1``, ...
    (``$`` because ``_0`` could be a name of the student's own).

    Numbering inside each shingle, not across the submission, is what makes a shingle independent of the
    code around it: binding one more variable earlier, or swapping two lines, renumbers no other shingle.
    """
    numbers: dict[str, int] = {}
    return _SEPARATOR.join(
        f"${numbers.setdefault(text, len(numbers))}" if chosen and text in renamed else text for text, chosen in window
    )


def shingles(answers: dict[str, str]) -> dict[str, set[str]]:
    """Each answer cell's shingles (grade_id -> set), the names bound anywhere in ``answers`` renamed."""
    cells = {grade: _cell(source) for grade, source in answers.items()}
    bound = _bound_names(tree for _, trees in cells.values() for tree in trees)
    return {
        grade: {_shingle(window, bound) for line in lines for window in _windows(line.tokens)}
        for grade, (lines, _) in cells.items()
    }


def baseline_shingles(baseline: Iterable[str]) -> set[str]:
    """Every shingle a student gets by typing a line of ``baseline``, whichever of its names the student binds."""
    found = set()
    for source in baseline:
        for window in (window for line in _cell(source)[0] for window in _windows(line.tokens)):
            names = sorted({text for text, chosen in window if chosen and text not in _BUILTINS})
            for size in range(len(names) + 1):
                found.update(_shingle(window, subset) for subset in itertools.combinations(names, size))
    return found


def common_limit(students: int) -> int:
    """The most students a kept shingle may be shared by, in a class of ``students``."""
    return max(COMMON_FLOOR, math.ceil(COMMON_FRACTION * students))


def kept_shingles(answers: dict[str, dict[str, str]], baseline: Iterable[str]) -> dict[str, dict[str, set[str]]]:
    """Per student and question (``Q3``), the shingles that are neither baseline nor common in the class."""
    dropped = baseline_shingles(baseline)
    found: dict[str, dict[str, set[str]]] = {}
    for student, cells in answers.items():
        questions: dict[str, set[str]] = defaultdict(set)
        for grade, cell_shingles in shingles(cells).items():
            questions[question_of(grade)] |= cell_shingles - dropped
        found[student] = questions
    frequency = Counter(shingle for questions in found.values() for shingle in set().union(*questions.values()))
    limit = common_limit(len(answers))
    return {
        student: {
            question: kept
            for question, cell_shingles in sorted(questions.items())
            if (kept := {shingle for shingle in cell_shingles if frequency[shingle] <= limit})
        }
        for student, questions in found.items()
    }


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _question_order(question: str) -> tuple[float, str]:
    number = re.search(r"\d+", question)
    return (int(number.group()) if number else math.inf, question)


def _shared_questions(a: dict[str, set[str]], b: dict[str, set[str]]) -> str:
    return " ".join(
        sorted((q for q in a.keys() & b.keys() if _jaccard(a[q], b[q]) >= QUESTION_SIMILARITY), key=_question_order)
    )


def similar_pairs(
    spark: SparkSession,
    answers: dict[str, dict[str, str]],
    baseline: Iterable[str],
    min_similarity: float = MIN_SIMILARITY,
) -> pd.DataFrame:
    """Pairs of students whose kept shingles look alike: ``student_a < student_b``, ``similarity`` (exact
    Jaccard over the whole series), ``questions`` (``"Q2 Q3 Q11"``, see QUESTION_SIMILARITY); highest first.

    Only pairs at ``min_similarity`` or more that share at least MIN_SHARED kept shingles are listed.
    """
    kept = kept_shingles(answers, baseline)
    # Students with no kept shingle share nothing with anyone, and MinHashLSH rejects their empty vectors.
    sets = {student: set().union(*questions.values()) for student, questions in kept.items()}
    sets = {student: found for student, found in sorted(sets.items()) if found}
    rows = []
    if len(sets) >= 2:
        # Numbered in sorted order: a set's order changes with each process's string hashing, and with it MinHash's
        # candidates; sorted, every run of the same class proposes the same pairs.
        vocabulary = {shingle: str(index) for index, shingle in enumerate(sorted(set().union(*sets.values())))}
        # Arrow hands the table straight to the JVM (no Python worker, whose shutdown can print to stderr), and
        # CountVectorizer turns each student's shingle ids into a sparse binary vector there.
        table = pd.DataFrame(
            {"student": list(sets), "ids": [[vocabulary[s] for s in found] for found in sets.values()]}
        )
        frame = spark.createDataFrame(table, schema="student string, ids array<string>")
        counter = CountVectorizer(inputCol="ids", outputCol="shingles", binary=True, vocabSize=len(vocabulary))
        # A sort-merge join: Spark would broadcast the exploded hash tables of a large class and run out of memory.
        frame = counter.fit(frame).transform(frame).select("student", "shingles").hint("merge")
        model = MinHashLSH(inputCol="shingles", outputCol="hashes", numHashTables=HASH_TABLES, seed=SEED).fit(frame)
        candidates = (
            # Spark keeps distances strictly below the threshold: a hair more keeps a pair at exactly min_similarity.
            model.approxSimilarityJoin(frame, frame, 1.0 - min_similarity + 1e-9)
            .select(F.col("datasetA.student").alias("a"), F.col("datasetB.student").alias("b"))
            .filter(F.col("a") < F.col("b"))
            .collect()
        )
        for a, b in candidates:
            similarity = _jaccard(sets[a], sets[b])
            if similarity >= min_similarity and len(sets[a] & sets[b]) >= MIN_SHARED:
                rows.append((a, b, similarity, _shared_questions(kept[a], kept[b])))
    pairs = pd.DataFrame(rows, columns=COLUMNS)
    pairs["similarity"] = pairs["similarity"].astype(float)
    return pairs.sort_values(["similarity", "student_a", "student_b"], ascending=[False, True, True], ignore_index=True)


def answer_cells(notebooks: dict[str, nbformat.NotebookNode]) -> dict[str, str]:
    """The answer cells of a submission (grade_id -> source), in notebook order; a duplicated id's cells joined."""
    found: dict[str, list[str]] = defaultdict(list)
    for notebook in notebooks.values():
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "code" and is_solution(cell) and (grade := grade_id(cell)):
                found[grade].append(str(cell.get("source", "")))
    return {grade: "\n".join(sources) for grade, sources in found.items()}


def _read_notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    notebooks = {}
    for path in sorted(folder.glob("*.ipynb")):
        try:
            notebooks[path.name] = nbformat.read(path, as_version=4)
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            continue  # a damaged file has no answers to compare; the grader reports it already
    return notebooks


def class_answers(course: Path) -> dict[str, dict[str, str]]:
    """Every student's answers (student -> grade_id -> source) from ``autograded/``, or from ``submitted/``
    for a student not autograded yet: copying shows in what was handed in, graded or not.
    """
    folders = {folder.parent.name: folder for folder in sorted(course.glob(f"submitted/*/{ASSIGNMENT}"))}
    folders |= {folder.parent.name: folder for folder in sorted(course.glob(f"autograded/*/{ASSIGNMENT}"))}
    return {student: answer_cells(_read_notebooks(folder)) for student, folder in sorted(folders.items())}


def baseline_code(course: Path) -> list[str]:
    """What every student was given: all code cells of the release notebooks and every ``helpers/`` file."""
    release = course / "release" / ASSIGNMENT
    if not any(release.glob("*.ipynb")):
        raise FileNotFoundError(f"{release}: no release notebooks; run `make release` (nbgrader generate_assignment)")
    cells = [
        str(cell.source)
        for notebook in _read_notebooks(release).values()
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    return cells + [path.read_text() for path in sorted((PROJECT_ROOT / "helpers").rglob("*.py"))]


def write_similarity_csv(pairs: pd.DataFrame, path: Path) -> Path:
    """Write ``pairs`` as CSV with the header ``student_a,student_b,similarity,questions`` (atomically)."""
    return atomic_write(path, lambda temporary: pairs[COLUMNS].to_csv(temporary, index=False, float_format="%.4f"))


def _line_keys(lines: list[Line], bound: Collection[str]) -> dict[int, set[str]]:
    """Each physical row's normalised logical lines (renamed in order of appearance within the line)."""
    keys: dict[int, set[str]] = defaultdict(set)
    for line in lines:
        for row in range(line.first, line.last + 1):
            keys[row].add(_shingle(line.tokens, bound))
    return keys


def _grade_ids(a: dict[str, str], b: dict[str, str], item: str) -> list[str]:
    if item in a or item in b:
        return [item]
    return [grade for grade in dict.fromkeys([*a, *b]) if question_of(grade) == item.upper()]


def side_by_side(
    a: dict[str, str], b: dict[str, str], questions: str | Iterable[str], labels: tuple[str, str] = ("a", "b")
) -> str:
    """An HTML fragment showing two students' answer cells next to each other, question by question.

    ``questions``: questions (``Q3``) or grade_ids (``q3_answer``), or one string of them (``"Q2 Q3"``).
    Per question a ``<section class="similar-question">`` with an ``<h4>``, then a ``<table class="side-by-side">``
    whose two columns (headed by ``labels``) hold a ``<pre>`` per answer cell. Each physical line is a
    ``<span class="line">``; it also has the class ``shared`` when its logical line, normalised as for shingles
    (comments, formatting and the student's own names aside), appears in the other student's cells of that
    question. Everything shown is HTML-escaped.
    """
    items = questions.split() if isinstance(questions, str) else list(questions)
    parsed = [{grade: _cell(source) for grade, source in cells.items()} for cells in (a, b)]
    bound = [_bound_names(tree for _, trees in side.values() for tree in trees) for side in parsed]
    sections = []
    for item in items:
        grades = _grade_ids(a, b, item)
        keys = [
            [_line_keys(side[grade][0] if grade in side else [], names) for grade in grades]
            for side, names in zip(parsed, bound)
        ]
        everything = [set().union(*(k for rows in side for k in rows.values())) for side in keys]
        body = []
        for position, grade in enumerate(grades):
            cells = []
            for side, source in enumerate((a.get(grade, ""), b.get(grade, ""))):
                other = everything[1 - side]
                rows = keys[side][position]
                lines = [
                    f'<span class="line{" shared" if rows.get(row, set()) & other else ""}">{html.escape(text)}</span>'
                    for row, text in enumerate(source.splitlines(), start=1)
                ]
                cells.append(f'<td><pre title="{html.escape(grade)}">' + "\n".join(lines) + "</pre></td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        header = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
        sections.append(
            f'<section class="similar-question"><h4>{html.escape(item)}</h4>'
            f'<table class="side-by-side"><tr>{header}</tr>{"".join(body)}</table></section>'
        )
    return "\n".join(sections)
