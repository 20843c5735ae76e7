"""The image registry (SOLUTIONS §2): hub.grid.tf flists by key. Images are configuration, not code."""

from __future__ import annotations

HUB = "https://hub.grid.tf"

UBUNTU_VERSIONS = ("ubuntu-18.04", "ubuntu-19.10", "ubuntu-20.04")


def ubuntu(version: str) -> str:
    return f"{HUB}/tf-bootable/3bot-{version}.flist"


MINIO = f"{HUB}/tf-official-apps/minio:latest.flist"
REDIS = f"{HUB}/tf-official-apps/redis_zinit.flist"
PROMETHEUS = f"{HUB}/tf-official-apps/prometheus:latest.flist"
GRAFANA = f"{HUB}/tf-official-apps/grafana-grafana-latest.flist"
TCPROUTER = f"{HUB}/tf-official-apps/tcprouter:latest.flist"
# The community images (FLIST_GITEA, FLIST_GOLLUM, FLIST_TLS_PROXY) are settings: planners read them from
# PlanContext.marketplace.flists.
