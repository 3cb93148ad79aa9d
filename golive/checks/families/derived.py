"""Items decided from the rest of the run, without I/O.

- ``aggregate``: every selected item is fine ("Alle Pipeline-Reports grün").
- ``signoff``: the named sign-off roles hold ("Management-Sign-off erhalten").
- ``rollback_plan``: a part of the rollback plan is declared ("Rollback-Trigger definiert").
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..probe import Evidence, Observation, ProbeConfig, ProbeType, Value, register
from ..status import Status


class AggregateConfig(ProbeConfig):
    type: Literal["aggregate"] = "aggregate"
    #: Phase, section or item ids; empty means every other automated item.
    include: list[str] = Field(default_factory=list)
    #: Only items that block GO.
    blocking_only: bool = True
    #: Only items a probe decides: "reports green" is about evidence systems produced.
    automated_only: bool = True


def _aggregate(config: AggregateConfig, context: Any) -> Observation:
    from ..verdict import item_ok

    checklist = context.checklist
    chosen = []
    for item in checklist.items():
        if item.probe_type in _DERIVED:
            continue
        if config.automated_only and item.probe_type == "manual":
            continue
        if config.blocking_only and not item.blocking:
            continue
        wanted = not config.include or {item.id, item.phase, item.section} & set(config.include)
        if wanted:
            chosen.append(item)
    missing = [i.id for i in chosen if i.id not in context.results]
    bad = [
        f"{i.id} {context.results[i.id].status}"
        for i in chosen
        if i.id in context.results and not item_ok(i, context.results[i.id].status)
    ]
    status = Status.PASS if not bad and not missing else Status.FAIL
    parts = []
    if bad:
        parts.append(f"{len(bad)} of {len(chosen)} not green: " + ", ".join(bad[:10]))
        if len(bad) > 10:
            parts[-1] += f", … and {len(bad) - 10} more"
    if missing:
        parts.append(f"{len(missing)} not run yet: " + ", ".join(missing[:10]))
    message = "; ".join(parts) or f"all {len(chosen)} green"
    return Observation(
        values={"TOTAL": len(chosen), "NOT_GREEN": len(bad) + len(missing)},
        evidence=Evidence("results of the checklist", context.now),
        status=status,
        message=message,
    )


class SignoffConfig(ProbeConfig):
    type: Literal["signoff"] = "signoff"
    roles: list[str] = Field(min_length=1)


def _signoff(config: SignoffConfig, context: Any) -> Observation:
    from ..verdict import signoff_states

    states = {
        s.role: s
        for s in signoff_states(context.checklist, context.results, context.records.signoffs, context.now)
    }
    missing = [r for r in config.roles if r not in states]
    if missing:
        return Observation(
            {},
            Evidence("sign-offs", context.now),
            Status.ERROR,
            f"no sign-off role {', '.join(missing)} in the checklist",
        )
    pending = [f"{states[r].title}: {states[r].reason}" for r in config.roles if not states[r].holds]
    held = [f"{states[r].title}: {states[r].reason}" for r in config.roles if states[r].holds]
    return Observation(
        values={"HELD": len(held), "REQUIRED": len(config.roles)},
        evidence=Evidence("sign-offs", context.now),
        status=Status.PASS if not pending else Status.PENDING,
        message="; ".join(pending or held),
    )


class RollbackPlanConfig(ProbeConfig):
    type: Literal["rollback_plan"] = "rollback_plan"
    part: Literal["procedure", "triggers", "roles", "communication_plan", "contacts"]


def _rollback(config: RollbackPlanConfig, context: Any) -> Observation:
    plan = context.checklist.rollback
    declared: dict[str, tuple[bool, str]] = {
        "procedure": (
            bool(plan.procedure_url or plan.procedure),
            f"{len(plan.procedure)} step(s)" + (f", {plan.procedure_url}" if plan.procedure_url else ""),
        ),
        "triggers": (bool(plan.triggers), ", ".join(t.name for t in plan.triggers)),
        "roles": (
            bool(plan.roles) and all(r.people for r in plan.roles),
            ", ".join(f"{r.role}: {', '.join(p.name for p in r.people)}" for r in plan.roles),
        ),
        "communication_plan": (bool(plan.communication_plan), (plan.communication_plan or "")[:200]),
        "contacts": (bool(plan.contacts), ", ".join(c.name for c in plan.contacts)),
    }
    present, summary = declared[config.part]
    label = config.part.replace("_", " ")
    return Observation(
        values={"DECLARED": present},
        evidence=Evidence(
            f"{context.checklist.source or 'checklist'}: rollback.{config.part}",
            context.now,
            plan.procedure_url,
        ),
        status=Status.PASS if present else Status.FAIL,
        message=f"{label}: {summary}"
        if present
        else f"rollback {label} is not declared in the checklist (rollback.{config.part})",
    )


_DERIVED = {"aggregate", "signoff", "rollback_plan"}

register(
    ProbeType(
        name="aggregate",
        summary="PASS when every selected item (phases, sections or items) is fine.",
        config_model=AggregateConfig,
        gather=None,
        values=(Value("TOTAL", "items aggregated"), Value("NOT_GREEN", "items not fine or not run")),
        default_conditions=(),
        example={"type": "aggregate", "include": ["p1", "p2"]},
        kind="derived",
        derive=_aggregate,
    )
)
register(
    ProbeType(
        name="signoff",
        summary="PASS when every named sign-off role holds; PENDING otherwise.",
        config_model=SignoffConfig,
        gather=None,
        values=(Value("HELD", "roles holding"), Value("REQUIRED", "roles required")),
        default_conditions=(),
        example={"type": "signoff", "roles": ["product-owner"]},
        kind="derived",
        derive=_signoff,
    )
)
register(
    ProbeType(
        name="rollback_plan",
        summary="PASS when the checklist declares that part of the rollback plan.",
        config_model=RollbackPlanConfig,
        gather=None,
        values=(Value("DECLARED", "whether the part is declared"),),
        default_conditions=(),
        example={"type": "rollback_plan", "part": "triggers"},
        kind="derived",
        derive=_rollback,
    )
)
