"""Cell outputs as the grader writes them: a failed test's message (never test code), and a cap on size."""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output


def error_output(ename: str, message: str) -> NotebookNode:
    """An error output that shows only ``ename: message``."""
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def fail(cell: NotebookNode, message: str, ename: str = "AssertionError") -> None:
    """Record a failed test (or a stopped cell) in the cell's outputs."""
    cell.outputs.append(error_output(ename, message))


def has_error(cell: NotebookNode) -> bool:
    """Whether any output of the cell is an error."""
    return any(output.output_type == "error" for output in cell.get("outputs", []))


def _size(output: NotebookNode) -> int:
    if output.output_type == "stream":
        return len(output.text)
    if output.output_type == "error":
        return sum(map(len, output.traceback)) + len(output.evalue)
    return sum(len(str(value)) for value in output.get("data", {}).values())


def cap_outputs(cell: NotebookNode, limit: int) -> None:
    """Keep at most ``limit`` characters of a cell's outputs; errors stay (shortened), the rest is cut."""
    kept, used = [], 0
    for output in cell.get("outputs", []):
        if used + _size(output) <= limit:
            kept.append(output)
            used += _size(output)
        elif output.output_type == "error":
            kept.append(error_output(output.ename, output.evalue[:2000]))
        elif output.output_type == "stream" and used < limit:
            output.text = output.text[: limit - used]
            kept.append(output)
            used = limit
    if used >= limit:
        kept.append(
            new_output("stream", name="stdout", text=f"\n[output cut by the grader after {limit} characters]\n")
        )
    cell.outputs = kept
