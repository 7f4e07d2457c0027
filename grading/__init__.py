"""Lab 5's grading code: for instructors only, never handed out to students.

* what the grader decides: ``questions`` (each question's hidden check, one file per question),
  ``references`` (the values checks compare with), ``verdicts``, ``shortcuts`` (the cost of reference
  code that ran), ``samples`` (the images each submission is graded on);
* what runs in the student's sandbox: ``hidden`` (what hidden test cells call), ``sensor`` and ``zygote``
  (the fork server the kernels come from);
* one notebook's grading: ``sandbox``, ``submission_sandbox`` and ``notebook_sandbox`` (what the kernel
  sees), ``listener`` (the
  sensor's reports), ``watchdog`` (CPU time and disk), ``outputs``, ``records`` (what grading found),
  ``preprocessors`` (nbgrader extensions, one per file);
* a class: ``autograde``, ``worker``, ``gradebook``; the nbgrader course: ``course``, ``handout``;
* crafted submissions: ``golden``, ``mistakes``, ``attacks``, and ``roundtrip``, which grades them.
"""
