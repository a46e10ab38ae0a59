"""deploy/: the Prometheus alert rules (checked and unit-tested by promtool) and the Grafana dashboard, and
that every metric they name is one the service exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "otp-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "otp-alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "otp-dashboard.json"
METRIC = re.compile(r"\botp_[a-z_]+\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def _alert_expressions() -> dict[str, str]:
    rules = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def _dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_promtool_checks_the_alert_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_alert_expressions())} rules found" in done.stdout


def test_every_alert_passes_its_unit_tests_and_has_one() -> None:
    done = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], capture_output=True, text=True,
                          cwd=RULE_TESTS.parent)

    assert done.returncode == 0, done.stdout + done.stderr
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", [])}
    assert tested == set(_alert_expressions())


def test_every_dashboard_query_is_promql(tmp_path: Path) -> None:
    # Grafana's own variables stand for a range; as recording rules, promtool parses each query.
    queries = [e.replace("$__rate_interval", "5m").replace("$__range", "1h") for e in _dashboard_expressions()]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query{i}", "expr": query}
                                                         for i, query in enumerate(queries)]}]}
    checked = tmp_path / "dashboard-queries.yml"
    checked.write_text(yaml.safe_dump(rules))

    done = subprocess.run([promtool(), "check", "rules", str(checked)], capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr


def _exposed(app: Flask) -> set[str]:
    """Every sample name /metrics can carry: counters by their _total name, histograms' _bucket, _count and
    _sum."""
    exposed = app.test_client().get("/metrics").get_data(as_text=True)
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposed, re.MULTILINE):
        suffixes = {"histogram": ["_bucket", "_count", "_sum"]}.get(kind, [""])
        names.update(name + suffix for suffix in suffixes)
    return names


def test_every_metric_the_rules_and_the_dashboard_name_is_exposed(app: Flask) -> None:
    named = {m for expr in [*_alert_expressions().values(), *_dashboard_expressions()] for m in METRIC.findall(expr)}

    assert len(named) >= 10
    assert named - _exposed(app) == set()


def test_the_typo_metric_is_not_the_faults_metric_the_alerts_read() -> None:
    faults = _alert_expressions()["OtpProviderFaults"]

    assert "otp_provider_errors_total" in faults and "refusals" not in faults
