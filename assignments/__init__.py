"""Graded assignments for resattn-min: reference solutions, generated student stubs, and graders.

* ``assignments/solutions/`` -- the reference solutions; each part a student writes is marked
  ``# BEGIN SOLUTION: <hint>`` ... ``# END SOLUTION``.
* ``assignments/student/`` -- generated from the solutions by ``python -m assignments.make_student``
  (stubs that raise ``NotImplementedError`` in place of the marked parts); never edited by hand.
* ``assignments/graders/`` -- one grader per assignment: weighted checks of the paper's properties.
* ``python -m assignments.grade <n> [--submission PATH]`` -- grade a submission and print its score.
* ``python -m assignments.timings --page book/instructors.md`` -- time every grader for the instructors' page.
"""
