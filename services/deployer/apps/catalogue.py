"""The apps as the wizards see them (``deployer.app_catalogue``): titles, questions, sizes — never a template."""

from __future__ import annotations

from collections.abc import Iterable

from services.common.app_contracts import AppChoice, AppInfo, AppQuestion, AppVolume
from services.deployer.apps.schema import VOLUME_QUESTION, Definition
from services.deployer.solutions.fields import MiB_PER_GiB
from services.deployer.solutions.gateway import TLS_PROXY_SIZE


def _gib(mib: int) -> int:
    return -(-mib // MiB_PER_GiB)


def _questions(d: Definition) -> list[AppQuestion]:
    out = [AppQuestion(name=q.name, kind=q.kind, label=q.label, help=q.help, required=q.required, default=q.default,
                       choices=[AppChoice(value=c.value, label=c.label) for c in q.choices] if q.choices else None,
                       min_length=q.min_length, max_length=q.max_length, pattern=q.pattern,
                       pattern_help=q.pattern_help, min=q.min, max=q.max) for q in d.questions]  # fmt: skip
    if d.volume is not None:  # asked first, as a choice of sizes (SOLUTIONS §4: "storage size")
        choices = [AppChoice(value=str(s), label=f"{s} GiB") for s in d.volume.sizes]
        out.insert(0, AppQuestion(name=VOLUME_QUESTION, kind="choice", label=d.volume.label,
                                  default=str(d.volume.default), choices=choices))  # fmt: skip
    return out


def info(d: Definition) -> AppInfo:
    """One app; ``cru``…``hru``: the app container plus its TLS-proxy helper (pattern C), the volume apart."""
    r = d.resources
    cpu, mru, sru = r.cpu, _gib(r.memory), _gib(r.disk)
    if d.exposure is not None and d.exposure.pattern == "C":
        h_cpu, h_mem, h_disk = TLS_PROXY_SIZE
        cpu, mru, sru = cpu + h_cpu, mru + _gib(h_mem), sru + _gib(h_disk)
    volume = None
    if d.volume is not None:
        volume = AppVolume(question=VOLUME_QUESTION, sizes=list(d.volume.sizes), default=d.volume.default,
                           disk=d.volume.disk)  # fmt: skip
    return AppInfo(type=d.type, title=d.title, description=d.description, icon=d.icon, questions=_questions(d),
                   cru=cpu, mru=mru, sru=sru, hru=0, cpu=r.cpu, memory=r.memory, disk=r.disk, volume=volume,
                   ssh_key=d.ssh_key, exposure=d.exposure.pattern if d.exposure else "none",
                   overview=list(d.overview), public_ipv6=d.public_ipv6)  # fmt: skip


def catalogue(definitions: Iterable[Definition]) -> list[AppInfo]:
    return [info(d) for d in sorted(definitions, key=lambda d: d.title.lower())]
