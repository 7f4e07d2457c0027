"""The lab's reference answers: everything here does some question's work.

The Setup cells use it to continue from a reference copy when an earlier answer is not usable, and
the tools, the web app and the benchmark use it for real work. Answers must not: during grading the
autograder's sensor watches every function in this package (README, "Grading integrity"), and an
answer that runs one of them, however it gets there, scores 0 on its question.

``resize`` (Q1), ``embedding`` (Q2, Q3), ``storage`` (Q4), ``spark_lsh`` (Q5-Q8), ``neighbors``
(Q9-Q12) and ``distributed`` (embedding on Spark's executors).
"""
