"""Lab 5's grading code: for instructors only, never handed out to students.

``checks`` (the hidden checks and their references), ``hidden`` (what a hidden test cell calls),
``golden`` (golden and wrong submissions), ``roundtrip`` (the golden round trip), ``preprocessors``
(nbgrader extensions, one per file) and ``course`` (the course directory as nbgrader sees it).
"""
