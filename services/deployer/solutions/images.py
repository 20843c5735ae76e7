"""The image registry (SOLUTIONS §2): hub.grid.tf flists by key. Images are configuration, not code."""

from __future__ import annotations

from services.common.settings import Settings

HUB = "https://hub.grid.tf"

UBUNTU_VERSIONS = ("ubuntu-18.04", "ubuntu-19.10", "ubuntu-20.04")


def ubuntu(version: str) -> str:
    return f"{HUB}/tf-bootable/3bot-{version}.flist"


MINIO = f"{HUB}/tf-official-apps/minio:latest.flist"
REDIS = f"{HUB}/tf-official-apps/redis_zinit.flist"
PROMETHEUS = f"{HUB}/tf-official-apps/prometheus:latest.flist"
GRAFANA = f"{HUB}/tf-official-apps/grafana-grafana-latest.flist"
TCPROUTER = f"{HUB}/tf-official-apps/tcprouter:latest.flist"
# The community images (FLIST_GITEA, FLIST_GOLLUM, FLIST_TLS_PROXY, the apps') are settings: planners read them
# from PlanContext.marketplace.flists.


def _official() -> dict[str, str]:
    # FLIST_UBUNTU_<version> (SOLUTIONS §2), the version's dot an underscore: FLIST_UBUNTU_20_04.
    by_version = {f"FLIST_UBUNTU_{v.removeprefix('ubuntu-').replace('.', '_')}": ubuntu(v) for v in UBUNTU_VERSIONS}
    return {**by_version, "FLIST_MINIO": MINIO, "FLIST_REDIS": REDIS, "FLIST_PROMETHEUS": PROMETHEUS,
            "FLIST_GRAFANA": GRAFANA, "FLIST_TCPROUTER": TCPROUTER}  # fmt: skip


# The image keys an app definition may name: the official images and every FLIST_* setting.
SETTING_KEYS = {field.alias: name for name, field in Settings.model_fields.items()
                if field.alias and field.alias.startswith("FLIST_")}  # fmt: skip
KEYS = frozenset(_official()) | frozenset(SETTING_KEYS)


def registry(settings: Settings) -> dict[str, str]:
    """Image key → URL, as this marketplace is configured (``PlanContext.marketplace.flists`` holds them)."""
    return {**_official(), **{key: str(getattr(settings, name)) for key, name in SETTING_KEYS.items()}}
