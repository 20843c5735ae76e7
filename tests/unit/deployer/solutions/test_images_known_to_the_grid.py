"""Every image a planner deploys is one the grid emulator's hub serves by default (SOLUTIONS §2): an unknown flist
fails the container on its node, so a planner using one would fail every deployment against `make run`."""

from __future__ import annotations

from emulators.grid.config import OFFICIAL_FLISTS
from services.common.settings import Settings
from services.deployer.solutions import images
from services.deployer.solutions.monitoring import FLISTS


def test_every_planner_image_is_an_official_flist() -> None:
    used = {images.ubuntu(version) for version in images.UBUNTU_VERSIONS}
    used |= {images.MINIO, images.REDIS, images.PROMETHEUS, images.GRAFANA, images.TCPROUTER, *FLISTS.values()}
    # The community images are settings: their defaults are what `make run` and the tests deploy.
    community = ("flist_gitea", "flist_gollum", "flist_tls_proxy", "flist_threebot")
    used |= {Settings.model_fields[f].default for f in community}
    assert used <= set(OFFICIAL_FLISTS), used - set(OFFICIAL_FLISTS)
