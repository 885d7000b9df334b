"""A responder's misbehaviours (``[responder.faults]``) in words, for people to read.

The words are the fault table's (:mod:`responder.fault_table`), the same the
responder's status page shows: one line per active fault, what it imitates.
"""

from __future__ import annotations

from responder.fault_table import describe_faults

__all__ = ["describe_faults"]
