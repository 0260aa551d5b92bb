"""The 办件 state machine: stages (环节) and the transitions DOMAIN §4 allows.

申请/收件 → 受理 (or 不予受理) → 决定 → 办结 → 送达, with the side paths 补正 (one-time
notice, clock paused until the materials arrive) and 特别程序 (clock paused), and 撤回
from any stage that is not final. A 补正 may also be asked before acceptance (行政许可法
第三十二条: the notice is given at intake), so the machine remembers whether the case was
already accepted when a side path ends.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """环节 of a 办件 as county and department systems report them."""

    SUBMITTED = "submitted"  # 申请/收件
    ACCEPTED = "accepted"  # 受理
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    CORRECTION_REQUESTED = "correction_requested"  # 补正告知
    CORRECTION_RECEIVED = "correction_received"  # 补正材料收到
    SUSPENDED = "suspended"  # 特别程序开始
    RESUMED = "resumed"  # 特别程序结束
    DECIDED = "decided"  # 决定
    CONCLUDED = "concluded"  # 办结
    DELIVERED = "delivered"  # 送达
    WITHDRAWN = "withdrawn"  # 撤回


class CaseType(StrEnum):
    """办件类型."""

    IMMEDIATE = "1"  # 即办件: done on the spot
    PROMISED = "2"  # 承诺件: done within the promised time limit


FINAL_STAGES = frozenset({Stage.NOT_ACCEPTED, Stage.DELIVERED, Stage.WITHDRAWN})
"""No transition leaves these. 办结 is not final: 送达 follows it."""

CLOSED_STAGES = frozenset({*FINAL_STAGES, Stage.CONCLUDED})
"""The case no longer runs against its time limit."""

# Lifecycle rank: breaks ties between events the source stamped identically.
RANK: dict[Stage, int] = {stage: i for i, stage in enumerate(Stage)}

_WHILE_OPEN = frozenset(
    {Stage.CORRECTION_REQUESTED, Stage.SUSPENDED, Stage.DECIDED, Stage.WITHDRAWN}
)
_BEFORE_ACCEPTANCE = frozenset(
    {Stage.ACCEPTED, Stage.NOT_ACCEPTED, Stage.CORRECTION_REQUESTED, Stage.WITHDRAWN}
)


def allowed_next(
    stage: Stage | None, *, accepted: bool, case_type: CaseType | None = None
) -> frozenset[Stage]:
    """Stages a case at ``stage`` may move to.

    ``accepted`` tells where a side path returns to: 补正 before acceptance returns to
    intake (accept or refuse), after acceptance to the review. A 即办件 may be concluded
    straight from acceptance (the decision is taken on the spot).
    """
    if stage is None:
        # Window systems often record 收件 and 受理 as one act.
        return frozenset({Stage.SUBMITTED, Stage.ACCEPTED})
    if stage in FINAL_STAGES:
        return frozenset()
    if stage is Stage.CONCLUDED:
        return frozenset({Stage.DELIVERED})
    if stage is Stage.DECIDED:
        return frozenset({Stage.CONCLUDED, Stage.WITHDRAWN})
    if stage is Stage.CORRECTION_REQUESTED:
        refuse = set() if accepted else {Stage.NOT_ACCEPTED}
        return frozenset({Stage.CORRECTION_RECEIVED, Stage.WITHDRAWN, *refuse})
    if stage is Stage.SUSPENDED:
        return frozenset({Stage.RESUMED, Stage.WITHDRAWN})
    if stage is Stage.SUBMITTED or (stage is Stage.CORRECTION_RECEIVED and not accepted):
        return _BEFORE_ACCEPTANCE
    # accepted, resumed, or correction_received after acceptance: the review runs.
    if case_type is CaseType.IMMEDIATE:
        return _WHILE_OPEN | {Stage.CONCLUDED}
    return _WHILE_OPEN
