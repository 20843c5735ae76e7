"""Why no node fits: the words of :class:`~services.deployer.grid.node_finder.NoNodeFits` messages.

Found by dropping one requirement at a time over counts of the index per combination of met and missed
requirements (one grouped query, over the pool's nodes first and over the whole index only when the pool itself
may be the problem).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.grid_rules import NODE_UP_WORDS
from services.deployer.grid import node_store
from services.deployer.grid.node_query import NodeQuery
from services.deployer.grid.node_store import Cursor, Filters

UNITS = ("cru", "mru", "sru", "hru")

# The names are the boolean columns of node_store.diagnose(), in the order a person reads requirements.
_ORDER = ("in_pool", "in_farm", "in_country", "in_city", "up", "free_to_use", "public_ipv4", "public_ipv6",
          "cru", "mru", "sru", "hru", "unused")  # fmt: skip
_SCOPE = ("in_pool", "in_farm", "in_country", "in_city")
_UNIT_WORDS = {"mru": "memory", "sru": "SSD storage", "hru": "HDD storage"}


def active_requirements(filters: Filters) -> list[str]:
    on = {
        "in_pool": filters.node_ids is not None,
        "in_farm": filters.farm_id is not None,
        "in_country": filters.country is not None,
        "in_city": filters.city is not None,
        "up": True,
        "free_to_use": filters.free_to_use,
        "public_ipv4": filters.public_ipv4,
        "public_ipv6": filters.public_ipv6,
        **{unit: getattr(filters, unit) is not None for unit in UNITS},
        "unused": bool(filters.exclude),
    }
    return [name for name in _ORDER if on[name]]


def _count(groups: list[dict[str, Any]], required: Sequence[str]) -> int:
    return sum(int(g["nodes"]) for g in groups if all(g[name] for name in required))


def _most(groups: list[dict[str, Any]], unit: str, required: Sequence[str]) -> float | None:
    return max((float(g[f"max_{unit}"]) for g in groups if all(g[name] for name in required)), default=None)


def _num(value: float) -> str:
    return f"{max(value, 0.0):.2f}".rstrip("0").rstrip(".")


def _amount(unit: str, value: float) -> str:
    if unit == "cru":
        return f"{_num(value)} CPU core{'' if value == 1 else 's'}"
    return f"{_num(value)} GiB of {_UNIT_WORDS[unit]}"


def _free(unit: str, value: float) -> str:
    """E.g. "4 free CPU cores", "50 GiB of free SSD storage"."""
    if unit == "cru":
        return f"{_num(value)} free CPU core{'' if value == 1 else 's'}"
    return f"{_num(value)} GiB of free {_UNIT_WORDS[unit]}"


def join_words(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _pool(query: NodeQuery) -> str:
    return query.pool_label or "your pool"


def _subject(kept: Sequence[str], query: NodeQuery, filters: Filters, plural: bool) -> str:
    """The nodes meeting ``kept``, in words: "up nodes of pool 12 in Ghent, Belgium with a public IPv4 address"."""
    adjectives = [word for name, word in (("up", "up"), ("free_to_use", "free-to-use")) if name in kept]
    words = [*adjectives, "nodes" if plural else "node"]
    if "in_pool" in kept:
        words.append(f"of {_pool(query)}")
    if "in_farm" in kept:
        words.append(f"in farm {filters.farm_id}")
    place = [str(value) for name, value in (("in_city", filters.city), ("in_country", filters.country))
             if name in kept]  # fmt: skip
    if place:
        words.append("in " + ", ".join(place))
    having = [f"a public {label} address" for name, label in (("public_ipv4", "IPv4"), ("public_ipv6", "IPv6"))
              if name in kept]  # fmt: skip
    having += [_free(unit, getattr(filters, unit)) for unit in UNITS if unit in kept]
    if having:
        words.append("with " + join_words(having))
    if "unused" in kept:
        words.append("besides those already chosen")
    return " ".join(words)


def _predicate(name: str, query: NodeQuery, filters: Filters, most: float | None, plural: bool) -> str:
    """What the nodes lack, as "is up" / "have a public IPv4 address" / "has 50 GiB of free SSD storage (…)"."""
    be, have = ("are", "have") if plural else ("is", "has")
    if name in UNITS:
        unit = (" core" if most == 1 else " cores") if name == "cru" else " GiB"
        hint = "" if most is None else f" (the most any has is {_num(most)}{unit})"
        return f"{have} {_free(name, getattr(filters, name))}{hint}"
    phrases = {
        "in_pool": f"{be} in {_pool(query)}",
        "in_farm": f"{be} in farm {filters.farm_id}",
        "in_country": f"{be} in {filters.country}",
        "in_city": f"{be} in {filters.city}" + (f", {filters.country}" if filters.country else ""),
        "up": f"{be} up",
        "free_to_use": f"{be} free to use (payable with FreeTFT)",
        "public_ipv4": f"{have} a public IPv4 address",
        "public_ipv6": f"{have} a public IPv6 address",
        "unused": f"{be} left besides the nodes already chosen",
    }
    return phrases[name]


def explain_cursor(cur: Cursor, query: NodeQuery, filters: Filters, count: int) -> str:
    """The reason :func:`find_nodes` found too little, from the pool / farm / place alone when that tells it.

    Reading only the nodes of the pool (or farm, or place) is an index lookup; the whole grid (a scan of every
    node) is read only when the pool itself may be the problem.
    """
    if any(name in _SCOPE for name in active_requirements(filters)):
        reason = _explain(node_store.diagnose(cur, filters, scoped=True), query, filters, count, scoped=True)
        if reason is not None:
            return reason
    reason = _explain(node_store.diagnose(cur, filters), query, filters, count)
    assert reason is not None
    return reason


def _explain(groups: list[dict[str, Any]], query: NodeQuery, filters: Filters, count: int,
             scoped: bool = False) -> str | None:  # fmt: skip
    """Why fewer than ``count`` nodes fit, in one true sentence about the index.

    The culprits are the requirements that, dropped alone, would leave enough nodes — requirements on the node
    itself first; the pool, farm or place only when nothing else is to blame, as the user chose those on purpose.
    When no single requirement is to blame: the first one (in reading order) after which too few nodes remain.
    Besides the pool, farm and place, the sentence names only the other requirements that change its count, so
    it stays short and true. With ``scoped`` groups (only the nodes of the pool, farm and place), None when the
    answer needs the rest of the grid.
    """
    active = active_requirements(filters)
    if _count(groups, ()) == 0:
        if scoped:
            return None
        return "no node is known yet: the node list has not been read from the grid; try again in a minute"
    alone = [name for name in active if _count(groups, [n for n in active if n != name]) >= count]
    culprits = [name for name in alone if name not in _SCOPE] or alone
    if scoped and not culprits:
        return None
    kept = [name for name in active if name not in culprits]
    if not culprits:
        kept = []
        for name in active:
            if _count(groups, [*kept, name]) < count:
                culprits = [name]
                break
            kept.append(name)
    found = _count(groups, [*kept, *culprits])
    for name in [n for n in reversed(kept) if n not in _SCOPE]:  # pool, farm and place stay: they are context
        trial = [n for n in kept if n != name]
        if _count(groups, [*trial, *culprits]) == found:
            kept = trial
    plural = found > 1
    predicates = []
    for name in culprits:
        if name == "in_country" and "in_city" in culprits:
            continue  # said with the city: "is in Tokyo, Belgium"
        # The capacity hint looks at the very nodes the sentence is about (meeting the other culprits too).
        scope = [*kept, *(n for n in culprits if n != name)]
        most = _most(groups, name, scope) if name in UNITS else None
        predicates.append(_predicate(name, query, filters, most, plural))
    subject = _subject(kept, query, filters, plural)
    if found == 0:
        return f"no {subject} {join_words(predicates)}"
    return f"only {found} {subject} {join_words(predicates)} ({count} needed)"


def missed(name: str, query: NodeQuery, filters: Filters, group: dict[str, Any]) -> str:
    """What one node lacks: "is not up" / "has only 20 GiB of free SSD storage (50 GiB needed)"."""
    if name in UNITS:
        return f"has only {_free(name, float(group[f'max_{name}']))} ({_amount(name, getattr(filters, name))} needed)"
    phrases = {
        "in_pool": f"is not in {_pool(query)}",
        "in_farm": f"is not in farm {filters.farm_id}",
        "in_country": f"is not in {filters.country}",
        "in_city": f"is not in {filters.city}",
        "up": f"is not up ({NODE_UP_WORDS})",
        "free_to_use": "is not free to use (it cannot be paid with FreeTFT)",
        "public_ipv4": "has no public IPv4 address",
        "public_ipv6": "has no public IPv6 address",
        "unused": "is already used by this deployment",
    }
    return phrases[name]
