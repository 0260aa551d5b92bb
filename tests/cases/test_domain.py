"""The 办件 state machine and the order-independence of case histories (pure domain)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import pytest

from services.cases.domain.history import CaseEvent, Handler, fold
from services.cases.domain.stages import CaseType, Stage, allowed_next
from tests.cases.factory import at, case_no, impl_code, stream, to_domain


def ev(stage: str, seq: int | None, when: str, **kw: object) -> CaseEvent:
    return CaseEvent(
        event_id=f"e{seq}-{stage}",
        source_system="s",
        stage=Stage(stage),
        occurred_at=at(when),
        seq=seq,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["submitted", "accepted", "decided", "concluded", "delivered"], "delivered"),
        (["submitted", "not_accepted"], "not_accepted"),
        (
            ["submitted", "accepted", "correction_requested", "correction_received", "decided"],
            "decided",
        ),
        (
            ["submitted", "accepted", "suspended", "resumed", "suspended", "resumed", "decided"],
            "decided",
        ),
        (["submitted", "correction_requested", "correction_received", "accepted"], "accepted"),
        (["submitted", "correction_requested", "not_accepted"], "not_accepted"),
        (["submitted", "accepted", "suspended", "withdrawn"], "withdrawn"),
        (["accepted", "decided", "concluded"], "concluded"),
        # 承诺件 whose decision comes with its 办结 (review finding 1).
        (["submitted", "accepted", "concluded", "delivered"], "delivered"),
        # 容缺受理: the review runs; the missing items arrive as 补正材料收到.
        (["submitted", "conditionally_accepted", "correction_received", "decided"], "decided"),
        (["conditionally_accepted", "decided", "concluded"], "concluded"),
        (["submitted", "conditionally_accepted", "suspended", "resumed"], "resumed"),
        # 退件: final, from intake, from a 补正 that was never answered, or from review.
        (["submitted", "returned"], "returned"),
        (["submitted", "correction_requested", "returned"], "returned"),
        (["submitted", "conditionally_accepted", "returned"], "returned"),
        (["submitted", "accepted", "suspended", "returned"], "returned"),
    ],
)
def test_allowed_paths_end_where_expected_without_anomalies(path: list[str], final: str) -> None:
    events = [ev(s, i, f"2026-03-0{1 + i}T10:00") for i, s in enumerate(path)]
    state = fold(events)
    assert state.stage == Stage(final)
    assert state.anomalies == ()


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["submitted", "decided"], "decided"),  # no decision before acceptance
        (["submitted", "returned", "accepted"], "accepted"),  # 退件 is final
        (["submitted", "accepted", "decided", "concluded", "returned"], "returned"),
        (["submitted", "conditionally_accepted", "accepted"], "accepted"),  # already accepted
        (["submitted", "correction_requested", "conditionally_accepted"], "conditionally_accepted"),
        (["submitted", "not_accepted", "accepted"], "accepted"),  # final stays final
        (["submitted", "accepted", "withdrawn", "decided"], "decided"),
        (["submitted", "accepted", "correction_received"], "correction_received"),
        (["submitted", "accepted", "correction_requested", "not_accepted"], "not_accepted"),
        (["submitted", "accepted", "suspended", "decided"], "decided"),  # resume first
        (["submitted", "accepted", "decided", "concluded", "delivered", "withdrawn"], "withdrawn"),
        (["resumed"], "resumed"),
    ],
)
def test_refused_transitions_become_anomalies_and_change_nothing(
    path: list[str], refused: str
) -> None:
    events = [ev(s, i, f"2026-03-0{1 + i}T10:00") for i, s in enumerate(path)]
    before = fold(events[:-1])
    after = fold(events)
    assert after.stage == before.stage
    assert [a.stage for a in after.anomalies] == [Stage(refused)]
    assert "not allowed" in (after.anomalies[0].anomaly or "")


@pytest.mark.parametrize("case_type", [CaseType.IMMEDIATE, CaseType.PROMISED])
def test_both_case_types_may_conclude_straight_from_acceptance(case_type: CaseType) -> None:
    """A 承诺件 reported 受理 → 办结 is concluded, not left "accepted" (and red-carded):
    the 办结 carries the decision, so ``decided_at`` is the 办结's time."""
    assert Stage.CONCLUDED in allowed_next(Stage.ACCEPTED, accepted=True, case_type=case_type)
    state = fold(
        [
            ev("accepted", 1, "2026-03-02T09:00", case_type=case_type),
            ev("concluded", 2, "2026-03-05T09:30", decision="approved"),
        ]
    )
    assert state.stage is Stage.CONCLUDED and state.anomalies == ()
    assert state.decided_at == state.concluded_at == at("2026-03-05T09:30")
    assert state.closed_at == at("2026-03-05T09:30") and state.decision == "approved"


def test_a_separate_decision_keeps_its_own_time() -> None:
    state = fold(
        [
            ev("accepted", 1, "2026-03-02T09:00"),
            ev("decided", 2, "2026-03-04T09:00"),
            ev("concluded", 3, "2026-03-05T09:30"),
        ]
    )
    assert state.decided_at == at("2026-03-04T09:00")
    assert state.concluded_at == at("2026-03-05T09:30")


def test_conditional_acceptance_starts_the_clock_and_return_stops_it() -> None:
    state = fold(
        [
            ev("submitted", 1, "2026-03-02T09:00"),
            ev("conditionally_accepted", 2, "2026-03-02T10:00"),
            ev("suspended", 3, "2026-03-03T10:00"),
            ev("returned", 4, "2026-03-06T10:00", reason="逾期未补齐容缺材料"),
        ]
    )
    assert state.accepted and state.accepted_at == at("2026-03-02T10:00")
    assert state.stage is Stage.RETURNED and state.returned_at == at("2026-03-06T10:00")
    assert state.closed_at == at("2026-03-06T10:00") and not state.paused
    # Missing items after 容缺受理 end no pause: the clock never stopped.
    items_in = fold(
        [
            ev("conditionally_accepted", 1, "2026-03-02T10:00"),
            ev("correction_received", 2, "2026-03-04T10:00"),
        ]
    )
    assert items_in.pauses == () and items_in.accepted and items_in.anomalies == ()


def test_late_event_joins_history_without_rewinding_the_stage() -> None:
    submitted = ev("submitted", 1, "2026-03-02T09:00")
    accepted = ev("accepted", 2, "2026-03-02T10:00")
    concluded = ev("concluded", 3, "2026-03-05T10:00")
    delivered = ev("delivered", 4, "2026-03-05T11:00")
    early = fold([submitted, accepted, delivered])
    assert early.stage is Stage.ACCEPTED and len(early.anomalies) == 1
    late = fold([submitted, accepted, delivered, concluded])
    assert late.stage is Stage.DELIVERED  # not rewound to "concluded"
    assert late.anomalies == ()
    assert [s.stage for s in late.steps] == [
        Stage.SUBMITTED,
        Stage.ACCEPTED,
        Stage.CONCLUDED,
        Stage.DELIVERED,
    ]


def test_without_seq_the_source_time_orders_events() -> None:
    a = replace(ev("accepted", None, "2026-03-02T10:00"), event_id="a")
    s = replace(ev("submitted", None, "2026-03-02T09:00"), event_id="s")
    assert fold([a, s]).stage is Stage.ACCEPTED
    assert fold([a, s]).anomalies == ()


def test_pauses_are_recorded_and_withdrawal_closes_an_open_pause() -> None:
    running = [
        ev("submitted", 1, "2026-03-02T09:00"),
        ev("accepted", 2, "2026-03-02T10:00"),
        ev("suspended", 3, "2026-03-03T10:00"),
    ]
    assert fold(running).paused
    state = fold([*running, ev("withdrawn", 4, "2026-03-06T10:00")])
    assert not state.paused and state.closed_at == at("2026-03-06T10:00")


def test_ten_thousand_events_in_order_shuffled_and_duplicated_end_identically() -> None:
    rng = random.Random(20260101)
    events = []
    number_of_cases = 0
    while len(events) < 10_000:
        number = case_no(impl_code(), at("2026-03-02T09:00").date(), number_of_cases)
        with_seq = number_of_cases % 4 != 0  # a quarter of the sources send no seq
        events += stream(rng, number, at("2026-03-02T09:00"), with_seq=with_seq)
        number_of_cases += 1
    events = events[:10_000]

    def final_states(feed: list[dict]) -> dict[str, object]:
        by_case: dict[str, list[CaseEvent]] = defaultdict(list)
        states = {}
        for data in feed:  # incremental, as the consumer does: fold after every event
            by_case[data["case_no"]].append(to_domain(data))
            states[data["case_no"]] = fold(by_case[data["case_no"]])
        return states

    in_order = final_states(events)
    shuffled = events[:]
    rng.shuffle(shuffled)
    duplicated = events + [dict(e) for e in rng.sample(events, 2_000)]
    rng.shuffle(duplicated)
    assert final_states(shuffled) == in_order
    assert final_states(duplicated) == in_order
    stages = {s.stage for s in in_order.values()}  # the mix really covers the machine
    assert {Stage.DELIVERED, Stage.NOT_ACCEPTED, Stage.WITHDRAWN, Stage.DECIDED} <= stages
    assert any(s.anomalies for s in in_order.values())
    assert any(s.paused for s in in_order.values())


def test_same_event_id_resent_with_other_content_is_kept_deterministically() -> None:
    first = ev("accepted", 2, "2026-03-02T10:00")
    other = replace(first, occurred_at=first.occurred_at + timedelta(minutes=5))
    base = [ev("submitted", 1, "2026-03-02T09:00")]
    assert fold([*base, first, other]) == fold([*base, other, first])
    assert len(fold([*base, first, other]).steps) == 2


def test_the_domain_stages_are_the_wire_stages_of_the_contract() -> None:
    """The state machine's Stage, the API's stage filter and the gateway's validation all
    use the canonical schema's names: a stage added to one must be added to all."""
    import typing

    from contracts import case_stages
    from services.cases.api.cases import StageName

    assert tuple(s.value for s in Stage) == case_stages()
    assert typing.get_args(StageName) == case_stages()


def test_replay_adding_one_event_at_a_time_equals_a_full_fold() -> None:
    """The consumer's incremental Replay must give exactly what fold gives, whatever the
    arrival order: in order, shuffled (late events replay), duplicated (also resent ids
    with other content), and sources with and without seq mixed in one case."""
    from services.cases.domain.history import Replay

    rng = random.Random(7)
    for n in range(300):
        number = case_no(impl_code(), at("2026-03-02T09:00").date(), n)
        data = stream(rng, number, at("2026-03-02T09:00"), with_seq=n % 3 != 0)
        events = [to_domain(d) for d in data]
        if n % 5 == 0 and len(events) > 2:  # one step reported without seq
            events[1] = replace(events[1], seq=None)
        if n % 7 == 0:  # a resent id with other content
            events.append(replace(events[0], occurred_at=events[0].occurred_at + timedelta(1)))
        feeds = [events, rng.sample(events, len(events)), events + rng.sample(events, 2)]
        for feed in feeds:
            replay = Replay()
            for i, event in enumerate(feed):
                assert replay.add(event) == fold(feed[: i + 1])
            assert replay.state == fold(events)
            assert Replay(feed).state == fold(events)


# -- the takeover hole: ownership is fixed by arrival, not by the sender's clock -------------

ALICE = ("natural", "ref-alice")
MALLORY = ("natural", "ref-mallory")


def test_a_back_dated_event_does_not_take_over_the_applicant() -> None:
    """The first event the hub received names the applicant; a later, back-dated event
    (older time, lower seq) naming another is an anomaly whose stage still applies."""
    first = ev("accepted", 5, "2026-03-02T10:00", applicant=ALICE)
    forged = replace(
        ev("submitted", 1, "2026-03-01T09:00", applicant=MALLORY), source_system="other"
    )
    state = fold([first, forged])  # arrival order: first, then the forged one
    assert state.applicant_event == first.key
    [anomaly] = state.anomalies
    assert anomaly.key == forged.key and anomaly.applied  # the stage applies …
    assert "applicant" in (anomaly.anomaly or "")  # … the applicant does not
    assert state.submitted_at == at("2026-03-01T09:00") and state.stage is Stage.ACCEPTED
    # The same events received the other way round belong to the other applicant.
    assert fold([forged, first]).applicant_event == forged.key
    # Naming the same applicant again (or none) is no conflict.
    again = ev("decided", 6, "2026-03-03T10:00", applicant=ALICE)
    assert fold([first, again, ev("concluded", 7, "2026-03-04T10:00")]).anomalies == ()


def test_an_event_from_another_handling_org_is_recorded_and_not_applied() -> None:
    own, other = Handler("ORG-A", "食品科", "S1"), Handler("ORG-B", "其他科", "X9")
    accepted = ev("accepted", 1, "2026-03-02T10:00", handler=own)
    forged = ev("concluded", 2, "2026-03-03T10:00", handler=other, decision="approved")
    unnamed = ev("decided", 3, "2026-03-04T10:00", handler=Handler(None, "审批科", "S2"))
    state = fold([accepted, forged, unnamed])
    [anomaly] = state.anomalies
    assert anomaly.key == forged.key and not anomaly.applied
    assert "ORG-B" in (anomaly.anomaly or "")
    assert state.stage is Stage.DECIDED and state.concluded_at is None
    assert state.decision is None
    # The case stays in its org's view; department and staff follow its own events.
    assert state.handler == Handler("ORG-A", "审批科", "S2")
    # A back-dated event from the other org received first owns the org instead: which
    # org that is, is the gateway's check (client → orgs), not the fold's.
    reversed_arrival = fold([forged, accepted])
    assert reversed_arrival.handler is not None and reversed_arrival.handler.org_uscc == "ORG-B"
    assert [s.applied for s in reversed_arrival.steps] == [False, False]


def test_replay_equals_fold_with_conflicting_applicants_and_orgs() -> None:
    """Arrival order is an input now: Replay, fed one event at a time, equals fold over
    the same arrivals, also when applicants and handling orgs conflict."""
    from services.cases.domain.history import Replay

    rng = random.Random(11)
    applicants = [None, None, ALICE, MALLORY]
    handlers = [None, Handler("ORG-A", "d1"), Handler("ORG-B", "d2"), Handler(None, "d3")]
    conflicts = 0
    for n in range(300):
        number = case_no(impl_code(), at("2026-03-02T09:00").date(), n)
        data = stream(rng, number, at("2026-03-02T09:00"), with_seq=n % 3 != 0)
        events = [
            replace(to_domain(d), applicant=rng.choice(applicants), handler=rng.choice(handlers))
            for d in data
        ]
        feeds = [events, rng.sample(events, len(events)), events + rng.sample(events, 2)]
        for feed in feeds:
            replay = Replay()
            for i, event in enumerate(feed):
                assert replay.add(event) == fold(feed[: i + 1])
            assert Replay(feed).state == replay.state
            conflicts += sum(
                1 for s in replay.state.steps if s.anomaly and "not allowed" not in s.anomaly
            )
    assert conflicts > 100  # the mix really exercises the conflict rules
