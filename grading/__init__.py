"""Lab 5's grading code: for instructors only, never handed out to students.

* what the grader decides: ``questions`` (each question's hidden check, one file per question),
  ``references`` (the values checks compare with), ``verdicts``, ``shortcuts`` (the cost of reference
  code that ran), ``samples`` (the images each submission is graded on);
* what runs in the student's sandboxed kernel: ``hidden`` (what hidden test cells call) and ``sensor``;
* one notebook's grading: ``sandbox`` and ``notebook_sandbox`` (what the kernel sees), ``listener`` (the
  sensor's reports), ``watchdog`` (CPU time and disk), ``outputs``, ``records`` (what grading found),
  ``preprocessors`` (nbgrader extensions, one per file);
* a class: ``autograde``, ``worker``, ``gradebook``; the nbgrader course: ``course``, ``handout``;
* crafted submissions: ``golden``, ``mistakes``, ``attacks``, and ``roundtrip``, which grades them.
"""
