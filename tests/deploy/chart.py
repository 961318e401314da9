"""Renders deploy/helm/hydracore with Helm's own engine (helm-python-sdk) for the
default values and a production-like values file, lints it with Helm's linter, checks
every rendered manifest with `kubernetes-validate --strict` and `yamllint`, and asserts
what a rollout relies on:

- the probes ask routes the server has (in docs/openapi.json);
- the Service, the PodDisruptionBudget, the spread and the ServiceMonitor select the
  Deployment's pods, and the HorizontalPodAutoscaler scales the Deployment;
- a rolling update never takes a node away before its successor is ready
  (maxUnavailable 0), with two or more nodes;
- every environment variable the chart sets is a documented setting
  (docs/operations.md), and every setting all nodes must share comes from the Secret,
  in the nodes and in the migration Job alike;
- the Job runs `hydracore migrate` as a pre-install/pre-upgrade hook while the nodes
  serve with HYDRACORE_NO_MIGRATE;
- the pods run as non-root with a read-only root filesystem.

Usage: chart.py REPO_ROOT. Prints what it checked; exits 1 with the failures.
"""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from helm_python import Chart, lint

ROOT = Path(sys.argv[1])
CHART = ROOT / "deploy/helm/hydracore"
SHARED = {"DATABASE_URL", "REDIS_URL", "HYDRACORE_JWT_SECRET", "HYDRACORE_MCP_CREDS_KEY", "HYDRACORE_OPS_TOKEN"}
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def documented_settings():
    text = (ROOT / "docs/operations.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.M))


def routes():
    spec = json.loads((ROOT / "docs/openapi.json").read_text())
    return set(spec["paths"])


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def validate(name, docs, settings, paths):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    dep = by_kind["Deployment"][0]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    check(selects(dep["spec"]["selector"]["matchLabels"], pod_labels), f"{name}: the Deployment selects its own pods")
    strategy = dep["spec"]["strategy"]
    check(strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0,
          f"{name}: rolling update with maxUnavailable 0")
    hpa = by_kind.get("HorizontalPodAutoscaler", [None])[0]
    if hpa:
        check(hpa["apiVersion"] == "autoscaling/v2", f"{name}: HPA autoscaling/v2")
        ref = hpa["spec"]["scaleTargetRef"]
        check((ref["kind"], ref["name"]) == ("Deployment", dep["metadata"]["name"]), f"{name}: the HPA scales the Deployment")
        check(hpa["spec"]["minReplicas"] >= 2, f"{name}: the HPA keeps two nodes or more")
        check("replicas" not in dep["spec"], f"{name}: the HPA, not the Deployment, owns replicas")
    else:
        check(dep["spec"]["replicas"] >= 2, f"{name}: two replicas or more")
    svc = by_kind["Service"][0]
    check(selects(svc["spec"]["selector"], pod_labels), f"{name}: the Service selects the Deployment's pods")
    pdb = by_kind["PodDisruptionBudget"][0]
    check(selects(pdb["spec"]["selector"]["matchLabels"], pod_labels), f"{name}: the PDB selects the Deployment's pods")
    for sm in by_kind.get("ServiceMonitor", []):
        check(selects(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]), f"{name}: the ServiceMonitor selects the Service")
        check(sm["spec"]["endpoints"][0]["path"] in paths | {"/metrics"}, f"{name}: the ServiceMonitor scrapes /metrics")
    spec = pod["spec"]
    for c in spec.get("topologySpreadConstraints", []):
        check(selects(c["labelSelector"]["matchLabels"], pod_labels), f"{name}: the spread counts the Deployment's pods")
    check(spec["securityContext"].get("runAsNonRoot") is True, f"{name}: non-root")
    container = spec["containers"][0]
    check(container["securityContext"].get("readOnlyRootFilesystem") is True, f"{name}: read-only root filesystem")
    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")]:
        got = container.get(probe, {}).get("httpGet", {}).get("path")
        check(got == path, f"{name}: {probe} asks {path} (got {got})")
        check(got in paths, f"{name}: {probe} asks {got}, a route the server has")
    check("preStop" in container.get("lifecycle", {}), f"{name}: a preStop pause")
    env = env_of(container)
    check(env.get("HYDRACORE_NO_MIGRATE", {}).get("value") == "true", f"{name}: nodes serve with HYDRACORE_NO_MIGRATE")
    shutdown = int(env["HYDRACORE_SHUTDOWN_TIMEOUT_SECS"]["value"])
    check(spec["terminationGracePeriodSeconds"] > shutdown, f"{name}: the grace period outlasts the drain")
    check(env.get("HYDRACORE_PUBLIC_URL", {}).get("value", "").startswith("http"), f"{name}: HYDRACORE_PUBLIC_URL")
    jobs = by_kind.get("Job", [])
    check(len(jobs) == 1, f"{name}: one migration Job")
    workloads = [("Deployment", container)]
    for job in jobs:
        hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
        check(set(hooks) == {"pre-install", "pre-upgrade"}, f"{name}: the Job is a pre-install/pre-upgrade hook")
        jc = job["spec"]["template"]["spec"]["containers"][0]
        check(jc["args"] == ["migrate"], f"{name}: the Job runs hydracore migrate")
        check(jc["image"] == container["image"], f"{name}: the Job runs the nodes' image")
        workloads.append(("Job", jc))
    for kind, c in workloads:
        env = env_of(c)
        for var in env:
            check(var in settings, f"{name}: {kind} sets {var}, which docs/operations.md does not document")
        for var in SHARED:
            ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef")
            check(ref is not None and ref.get("name"), f"{name}: {kind} reads {var} from the Secret")
            check("value" not in env.get(var, {}), f"{name}: {kind} never holds {var}'s value")
    return sorted(by_kind)


def main():
    settings, paths = documented_settings(), routes()
    chart = Chart.load(CHART)
    report = {}
    for name, values_file in [("default", None), ("production", ROOT / "tests/deploy/values-production.yaml")]:
        values = yaml.safe_load(values_file.read_text()) if values_file else None
        findings = lint(str(CHART), values, strict=True)
        bad = [m for m in findings.get("messages", []) if m.get("severity", 0) >= 2] + findings.get("errors", [])
        check(not bad, f"{name}: helm lint --strict: {bad}")
        rendered = chart.render(values, name="hc", namespace="agents", is_install=True)
        docs = []
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for path, text in sorted(rendered.items()):
                if not text.strip() or path.endswith("NOTES.txt"):
                    continue
                out = Path(tmp) / path.replace("/", "_")
                out.write_text(text)
                files.append(out)
                docs.extend(d for d in yaml.safe_load_all(text) if d)
            builtin = [f for f in files if "servicemonitor" not in f.name]
            validated = subprocess.run(
                [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "--no-warn", *map(str, builtin)],
                capture_output=True, text=True)
            check(validated.returncode == 0, f"{name}: kubernetes-validate --strict: {validated.stdout}{validated.stderr}")
            linted = subprocess.run(
                [str(Path(sys.executable).parent / "yamllint"), "-d",
                 "{extends: default, rules: {line-length: {max: 160}, document-start: disable, indentation: {indent-sequences: whatever}}}",
                 *map(str, files)],
                capture_output=True, text=True)
            check(linted.returncode == 0, f"{name}: yamllint: {linted.stdout}{linted.stderr}")
        kinds = validate(name, docs, settings, paths)
        report[name] = {"kinds": kinds, "kubernetes-validate": validated.stdout.strip().splitlines(),
                        "helm-lint": [m.get("error") for m in findings.get("messages", [])]}
    values_lint = subprocess.run(
        [str(Path(sys.executable).parent / "yamllint"), "-d", "{extends: default, rules: {line-length: {max: 100}, document-start: disable}}",
         str(CHART / "values.yaml"), str(CHART / "Chart.yaml"), str(ROOT / "tests/deploy/values-production.yaml")],
        capture_output=True, text=True)
    check(values_lint.returncode == 0, f"yamllint values: {values_lint.stdout}")
    print(json.dumps(report, indent=1))
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


main()
