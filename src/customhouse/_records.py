"""Bases for slotted record classes that cannot be NamedTuples.

Most value types here are ``typing.NamedTuple``s: defining a dataclass costs a process
~1 ms per class (it compiles generated methods), plus ~20 ms for importing
``dataclasses`` and ``inspect``, which every command would pay at start-up. Classes
that cannot be tuples (they are filled in after creation, have a field named
``index``, or must not compare equal to a tuple) derive from :class:`Record` or
:class:`Frozen` and name their fields, in constructor order, in ``_fields``: they
get what a dataclass would have given them.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """A mutable record: equal to a record of its own class with equal fields; unhashable
    (defining ``__eq__`` without ``__hash__`` makes Python set ``__hash__`` to None)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]]  # the constructor's parameters, in order

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Record):
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


class Frozen(Record):
    """An immutable record: its fields are set once, by ``_init``; hashable by value."""

    __slots__ = ()

    def _init(self, *values: object) -> None:
        """Set every field once (from ``__init__``)."""
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to {name!r}: a {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete {name!r}: a {type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[type[Frozen], tuple[Any, ...]]:
        # copy and pickle rebuild through __init__, since __setattr__ refuses
        return (type(self), self._values())
