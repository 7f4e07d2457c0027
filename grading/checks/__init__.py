"""The hidden checks: a verdict for each question from the plain evidence of its answers.

:func:`verdict` runs the question's visible checks (``helpers.checks``) and then its hidden ones,
and returns the first problem as the message the student reads. The checks compare with
references computed from the data (:class:`References`), never with anything a student defined.
"""

from __future__ import annotations

from collections.abc import Callable

from grading.checks import embeddings, neighbors, spark_lsh
from grading.checks.references import References
from grading.hidden import Verdict
from helpers.checks import Evidence, visible_problems
from helpers.lab import LabSetup

HiddenCheck = Callable[[LabSetup, Evidence, References], list[str]]
#: One hidden check per test cell, named like its grade_id.
HIDDEN: dict[str, HiddenCheck] = {
    check.__name__: check
    for check in (
        embeddings.q1_resize_224_jpeg,
        embeddings.q2_class_c_get_vec,
        embeddings.q3_all_embeddings,
        embeddings.q4_embeddings_csv,
        spark_lsh.q5_spark_dataframe,
        spark_lsh.q6_features_vector,
        spark_lsh.q7_brp_model,
        spark_lsh.q8_hashed_dataframe,
        neighbors.q9_random_query_image,
        neighbors.q10_query_vector,
        neighbors.q11_five_nearest_neighbors,
        neighbors.q12_neighbor_figure,
    )
}


def verdict(grade_id: str, lab: LabSetup, found: Evidence, refs: References | None = None) -> Verdict:
    """Visible then hidden checks of one question on its evidence."""
    problems = visible_problems(grade_id, lab, found) or HIDDEN[grade_id](lab, found, refs or References(lab))
    return Verdict(not problems, problems[0] if problems else "")
