"""The app catalogue's contract (issue 13): what ``deployer.app_catalogue`` answers the apps wizard and the
catalogue, one ``AppInfo`` per app definition. Re-exported by ``contracts``, the index of the inter-service API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from services.common.payload import Payload


class AppCatalogueQuery(Payload):
    """Every app the deployer can run (its definition files, issue 13), for the apps wizard and the catalogue."""


class AppChoice(BaseModel):
    value: str
    label: str


class AppQuestion(BaseModel):
    """One app question in a chatflow question kind (string, secret, text, integer, choice, dropdown)."""

    name: str
    kind: str
    label: str
    help: str = ""
    required: bool = True
    default: str | int | None = None
    choices: list[AppChoice] | None = None
    min_length: int | None = None
    max_length: int = 256
    pattern: str | None = None
    pattern_help: str = ""
    min: int | None = None
    max: int | None = None


class AppVolume(BaseModel):
    """The app's data volume: its size (GiB) is the answer ``question`` among ``sizes``."""

    question: str
    sizes: list[int]
    default: int
    disk: Literal["ssd", "hdd"]


class AppInfo(BaseModel):
    """An app as a wizard presents it; ``resources`` is the app container plus its helper, without the volume
    (``services.common.app_sizing`` adds it)."""

    type: str
    title: str
    description: str
    icon: str
    questions: list[AppQuestion]
    cru: float
    mru: float
    sru: float
    hru: float
    cpu: int
    memory: int
    disk: int
    volume: AppVolume | None = None
    ssh_key: Literal["none", "optional", "required"] = "none"
    exposure: Literal["C", "P", "none"]
    overview: list[str]
    # The app container needs a public IPv6 address (Taiga, Mattermost, the Publishers): the wizard's node must have
    # one, or the deployment it shows would fail at the node ("has no public IPv6 address").
    public_ipv6: bool = False


class AppCatalogue(Payload):
    """Answer of ``deployer.app_catalogue``."""

    apps: list[AppInfo]
