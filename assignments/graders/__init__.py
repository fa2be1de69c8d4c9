"""One grader per assignment, by number."""

from __future__ import annotations

from ..grading import Assignment
from . import a1_mask_activations, a2_local_mask, a3_se_unit, a4_mask_depths, a5_arl_vs_nal, a6_noisy_labels

ASSIGNMENTS: dict[int, Assignment] = {
    m.ASSIGNMENT.number: m.ASSIGNMENT
    for m in (a1_mask_activations, a2_local_mask, a3_se_unit, a4_mask_depths, a5_arl_vs_nal, a6_noisy_labels)
}
