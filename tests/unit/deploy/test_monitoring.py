"""deploy/monitoring/: the alert rules pass ``promtool check rules`` and their unit tests (``promtool test rules``,
each alert's expression against recorded series); the scrape configurations are valid and scrape every metered
role where ``make run`` and compose serve it; every metric the rules and the dashboard name is one the code serves.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from deploy.role import ROLES, metrics_port_variable
from deploy.run_local import load_env_file
from services.common import metrics as common_metrics
from tests.conftest import ROOT, require

MONITORING = ROOT / "deploy" / "monitoring"
METERED = {role for role in ROLES if role.endswith(("-web", "-worker"))}
# The families read at scrape time (collectors) and so absent from the default registry.
SCRAPE_TIME = {"marketplace_celery_queue_depth", "marketplace_deployer_solutions",
               "marketplace_deployer_stuck_solutions", "marketplace_pools_reservations_awaiting_payment",
               "marketplace_auth_active_sessions"}  # fmt: skip
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    require("promtool", "prometheus")
    return subprocess.run(["promtool", *args], cwd=MONITORING, capture_output=True, text=True, timeout=60, check=False)


def test_alert_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def test_each_alert_fires_on_recorded_series_and_only_then() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {t["alertname"] for case in yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
              for t in case["alert_rule_test"]}  # fmt: skip
    rules = {r["alert"] for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    assert tested == rules == {"SolutionsStuck", "QueueGrowing", "ExplorerErrors", "NoSuccessfulLogin"}


def test_scrape_configs_are_valid_and_cover_every_metered_role() -> None:
    env: dict[str, str] = {}
    load_env_file(ROOT / "dev.env", env)
    for name in ("prometheus.yml", "prometheus-local.yml"):
        result = promtool("check", "config", name)
        assert result.returncode == 0, result.stdout + result.stderr
        jobs = yaml.safe_load((MONITORING / name).read_text())["scrape_configs"]
        assert {job["job_name"] for job in jobs} == METERED
    local = yaml.safe_load((MONITORING / "prometheus-local.yml").read_text())["scrape_configs"]
    for job in local:  # make run's ports (dev.env)
        assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{env[metrics_port_variable(job['job_name'])]}"]


def _served_names() -> set[str]:
    # Importing the modules registers their instruments in the default registry.
    import services.auth.metrics
    import services.common.explorer_metrics
    import services.common.task_metrics
    import services.common.web_metrics
    import services.deployer.metrics
    import services.pools.metrics  # noqa: F401

    # Labelled instruments have no sample until first used: their names come from the family and its type.
    families = [f for f in REGISTRY.collect() if f.name.startswith("marketplace_")]
    return {f"{f.name}{suffix}" for f in families for suffix in SUFFIXES[f.type]} | SCRAPE_TIME


def test_every_metric_the_rules_and_the_dashboard_name_is_served() -> None:
    assert common_metrics.enabled()
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "marketplace.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [r["expr"] for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    named = {name for expr in exprs for name in re.findall(r"marketplace_[a-z_]+", expr)}
    served = _served_names()
    assert not named - served, named - served
    provisioning = MONITORING / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {uid}


def test_dashboard_answers_the_operating_questions() -> None:
    titles = [p["title"] for p in json.loads((MONITORING / "grafana" / "dashboards" / "marketplace.json").read_text())
              ["panels"]]  # fmt: skip
    for question in ("Should I add deployer workers?", "Is the grid healthy?", "Is anyone stuck?"):
        assert any(title.startswith(question) for title in titles), question
    assert Path(MONITORING / "grafana" / "provisioning" / "dashboards" / "marketplace.yml").is_file()
