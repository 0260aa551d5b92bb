"""The 办件 state machine: stages (环节) and the transitions DOMAIN §4 allows.

申请/收件 → 受理 or 容缺受理 (or 不予受理) → 决定 → 办结 → 送达, with the side paths 补正
(one-time notice, clock paused until the materials arrive), 特别程序 (clock paused), and
撤回 or 退件 from any open stage before 办结. A 补正 may also be asked before acceptance
(行政许可法第三十二条: the notice is given at intake), so the machine remembers whether the
case was already accepted when a side path ends.

Transitions added for review findings (documented in docs/cases.md):

- 办结 may follow acceptance directly for every case type: a 即办件 decides on the spot,
  and many systems report a 承诺件's decision only with its 办结 (the 办结 then carries the
  decision, and its time is the decision's time).
- 容缺受理 (accepted with minor items missing) starts the clock exactly as 受理 does and is
  followed by what follows 受理; the missing items arriving are reported as 补正材料收到
  (no pause to end: the clock never stopped).
- 退件 (the application is returned) is final, like 撤回, and allowed from the same stages.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """环节 of a 办件 as county and department systems report them.

    The order is the canonical schema's (contracts/events/case-event-received) and the
    lifecycle rank that breaks ties between identically stamped events.
    """

    SUBMITTED = "submitted"  # 申请/收件
    ACCEPTED = "accepted"  # 受理
    CONDITIONALLY_ACCEPTED = "conditionally_accepted"  # 容缺受理
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    CORRECTION_REQUESTED = "correction_requested"  # 补正告知
    CORRECTION_RECEIVED = "correction_received"  # 补正材料收到
    SUSPENDED = "suspended"  # 特别程序开始
    RESUMED = "resumed"  # 特别程序结束
    DECIDED = "decided"  # 决定
    CONCLUDED = "concluded"  # 办结
    DELIVERED = "delivered"  # 送达
    WITHDRAWN = "withdrawn"  # 撤回
    RETURNED = "returned"  # 退件


class CaseType(StrEnum):
    """办件类型."""

    IMMEDIATE = "1"  # 即办件: done on the spot
    PROMISED = "2"  # 承诺件: done within the promised time limit


FINAL_STAGES = frozenset({Stage.NOT_ACCEPTED, Stage.DELIVERED, Stage.WITHDRAWN, Stage.RETURNED})
"""No transition leaves these. 办结 is not final: 送达 follows it."""

CLOSED_STAGES = frozenset({*FINAL_STAGES, Stage.CONCLUDED})
"""The case no longer runs against its time limit."""

ACCEPTANCES = frozenset({Stage.ACCEPTED, Stage.CONDITIONALLY_ACCEPTED})
"""Stages that start the clock (受理, 容缺受理)."""

ENDINGS = frozenset({Stage.WITHDRAWN, Stage.RETURNED})
"""撤回 and 退件: end an open case before 办结 (and any open pause with it)."""

# Lifecycle rank: breaks ties between events the source stamped identically.
RANK: dict[Stage, int] = {stage: i for i, stage in enumerate(Stage)}

_WHILE_OPEN = frozenset(
    {Stage.CORRECTION_REQUESTED, Stage.SUSPENDED, Stage.DECIDED, Stage.CONCLUDED, *ENDINGS}
)
_BEFORE_ACCEPTANCE = frozenset(
    {*ACCEPTANCES, Stage.NOT_ACCEPTED, Stage.CORRECTION_REQUESTED, *ENDINGS}
)


def allowed_next(
    stage: Stage | None, *, accepted: bool, case_type: CaseType | None = None
) -> frozenset[Stage]:
    """Stages a case at ``stage`` may move to.

    ``accepted`` tells where a side path returns to: 补正 before acceptance returns to
    intake (accept or refuse), after acceptance to the review. ``case_type`` does not
    change the transitions any more (both types may conclude straight from acceptance);
    it is kept for callers and for rules that may depend on it.
    """
    del case_type
    return _TABLE[(stage, accepted)]  # every replay asks once per event: look it up


def _allowed(stage: Stage | None, accepted: bool) -> frozenset[Stage]:
    if stage is None:
        # Window systems often record 收件 and 受理 as one act.
        return frozenset({Stage.SUBMITTED, *ACCEPTANCES})
    if stage in FINAL_STAGES:
        return frozenset()
    if stage is Stage.CONCLUDED:
        return frozenset({Stage.DELIVERED})
    if stage is Stage.DECIDED:
        return frozenset({Stage.CONCLUDED, *ENDINGS})
    if stage is Stage.CORRECTION_REQUESTED:
        refuse = set() if accepted else {Stage.NOT_ACCEPTED}
        return frozenset({Stage.CORRECTION_RECEIVED, *ENDINGS, *refuse})
    if stage is Stage.SUSPENDED:
        return frozenset({Stage.RESUMED, *ENDINGS})
    if stage is Stage.SUBMITTED or (stage is Stage.CORRECTION_RECEIVED and not accepted):
        return _BEFORE_ACCEPTANCE
    if stage is Stage.CONDITIONALLY_ACCEPTED:
        # The missing items arrive (补正材料收到), or the review runs meanwhile.
        return _WHILE_OPEN | {Stage.CORRECTION_RECEIVED}
    # accepted, resumed, or correction_received after acceptance: the review runs.
    return _WHILE_OPEN


_TABLE = {(s, a): _allowed(s, a) for s in (None, *Stage) for a in (False, True)}
