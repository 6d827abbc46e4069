"""A small helper for explicit state machines: one map of allowed moves, one check."""

from __future__ import annotations

from collections.abc import Mapping


class IllegalTransition(Exception):
    """A requested status change is not allowed from the current status."""

    def __init__(self, label: str, current: str, target: str, allowed: tuple[str, ...]) -> None:
        self.current, self.target = current, target
        choices = ", ".join(allowed) if allowed else "none (this is a final status)"
        article = "An" if label[:1].lower() in "aeiou" else "A"
        super().__init__(
            f"{article} {label} that is {current.replace('_', ' ')} cannot move to {target.replace('_', ' ')}; "
            f"allowed next: {choices.replace('_', ' ')}."
        )


def check_transition(
    transitions: Mapping[str, tuple[str, ...]], label: str, current: str, target: str
) -> None:
    """Raise IllegalTransition unless ``current → target`` is in ``transitions``."""
    allowed = transitions.get(current, ())
    if target not in allowed:
        raise IllegalTransition(label, current, target, allowed)
