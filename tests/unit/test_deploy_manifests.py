"""deploy/k8s/: the manifests pass the Kubernetes schemas `drills check-papers` uses, and agree with
what the service really reads and serves (drills/app), with the image (deploy/Dockerfile), with the
values papers/timeout-ladders.md recommends, and with the README's staging command."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills import catalog
from drills.app.settings import PREFIX, AppSettings
from drills.papercheck import check_manifests, code_blocks, manifest_files
from drills.papercheck.manifests import KUSTOMIZATION

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def objects() -> dict[str, dict[str, Any]]:
    """kind -> the one object of that kind in deploy/k8s."""
    found: dict[str, dict[str, Any]] = {}
    for path in manifest_files(K8S):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] not in found, f"two {doc['kind']}s"
            found[doc["kind"]] = doc
    return found


def container() -> dict[str, Any]:
    (only,) = objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def pod_spec() -> dict[str, Any]:
    return objects()["Deployment"]["spec"]["template"]["spec"]


def config_data() -> dict[str, str]:
    return objects()["ConfigMap"]["data"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    steps = [(op.upper(), rest) for op, rest in (line.split(None, 1) for line in lines)]
    return steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]


def image_cmd() -> list[str]:
    return json.loads(next(rest for op, rest in dockerfile_instructions() if op == "CMD"))


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for op, rest in dockerfile_instructions():
        if op == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def gunicorn_settings() -> Any:
    """What Gunicorn runs with: the image's CMD over the ConfigMap's GUNICORN_CMD_ARGS, parsed by Gunicorn."""
    from gunicorn.config import Config

    cmd = image_cmd()
    assert cmd[0] == "gunicorn"
    config = Config()
    parser = config.parser()
    for args in (shlex.split(config_data()["GUNICORN_CMD_ARGS"]), cmd[1:]):  # the command line wins
        for name, value in vars(parser.parse_args(args)).items():
            if value is not None and name != "args":
                config.set(name, value)
    config.app_args = parser.parse_args(cmd[1:]).args
    return config


def served_get_paths() -> set[str]:
    from drills.app.main import app

    return {route.path for route in app.routes if "GET" in getattr(route, "methods", set())}


def seconds(value: str) -> int:
    return int(value)


# -- schemas ------------------------------------------------------------------------------------


def test_every_manifest_passes_the_kubernetes_schemas() -> None:
    report = check_manifests(manifest_files(K8S))
    assert report.ok, "\n".join(map(str, report.problems))
    assert {name for name, _, _ in report.blocks} == {"namespace.yaml", "configmap.yaml", "deployment.yaml",
                                                     "service.yaml", "ingress.yaml"}


def test_a_broken_manifest_is_caught_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "deployment.yaml"
    lines = (K8S / "deployment.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if "timeoutSeconds" in line)
    lines[number - 1] = lines[number - 1].replace("timeoutSeconds", "timeoutSecs")
    broken.write_text("".join(lines), encoding="utf-8")
    (problem,) = check_manifests([broken]).problems
    assert problem.paper == broken and problem.line == number and "timeoutSecs" in problem.message


def test_the_kustomization_applies_every_manifest_and_sets_the_image() -> None:
    kustomization = yaml.safe_load((K8S / KUSTOMIZATION).read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files(K8S))
    assert [image["name"] for image in kustomization["images"]] == [container()["image"]]
    names = {o["metadata"].get("namespace") for o in objects().values() if o["kind"] != "Namespace"}
    assert names == {objects()["Namespace"]["metadata"]["name"]}


# -- what the app reads -------------------------------------------------------------------------


def test_the_configuration_sets_every_setting_the_app_reads_and_nothing_else() -> None:
    env = {e["name"]: e for e in container()["env"]}
    configured = {k for k in config_data() if k.startswith(PREFIX)} | {k for k in env if k.startswith(PREFIX)}
    reads = set(AppSettings(conninfo="x", state_dir=Path("/")).to_env())
    assert configured == reads, f"not read by drills/app: {configured - reads}; not set: {reads - configured}"
    assert config_data().keys() - {"GUNICORN_CMD_ARGS"} <= reads
    # The values parse the way the app parses them (a typo like "2s" fails here, not in a pod).
    values = {**config_data(), **{k: e.get("value", "from-secret") for k, e in env.items()}}
    settings = AppSettings.from_env({k: v for k, v in values.items() if k.startswith(PREFIX)})
    assert settings.pool_min_size <= settings.pool_max_size


def test_the_dsn_comes_from_a_secret_and_no_password_is_written_down() -> None:
    conninfo = next(e for e in container()["env"] if e["name"] == PREFIX + "CONNINFO")
    assert set(conninfo) == {"name", "valueFrom"} and "secretKeyRef" in conninfo["valueFrom"]
    assert PREFIX + "CONNINFO" not in config_data()
    assert "Secret" not in objects()
    for path in K8S.glob("*.yaml"):
        assert not re.search(r"password\s*=", path.read_text(encoding="utf-8"), re.I), path.name


def test_the_shared_folders_are_fresh_volumes_where_the_image_expects_them() -> None:
    env = {e["name"]: e.get("value") for e in container()["env"]}
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    for name in (PREFIX + "STATE_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        assert env[name] == image_env()[name], name
        assert "emptyDir" in volumes[mounts[env[name]]], name
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    assert gunicorn_settings().worker_tmp_dir == "/dev/shm"  # the heartbeat files need a writable folder


def test_gunicorn_runs_the_service_with_its_hooks_on_the_container_port() -> None:
    cfg = gunicorn_settings()
    assert cfg.app_args == ["drills.app.main:app"]
    assert cfg.worker_class_str == "uvicorn_worker.UvicornWorker"
    assert cfg.config == "python:drills.app.gunicorn_hooks"
    (bind,) = cfg.bind
    (port,) = container()["ports"]
    assert int(bind.rsplit(":", 1)[1]) == port["containerPort"]
    assert ("EXPOSE", str(port["containerPort"])) in dockerfile_instructions()
    assert objects()["Service"]["spec"]["ports"][0]["targetPort"] == port["name"]
    assert pod_spec()["securityContext"]["runAsUser"] == int(
        next(rest for op, rest in dockerfile_instructions() if op == "USER").split(":")[0])


def test_probes_and_the_alb_health_check_ask_paths_the_app_serves() -> None:
    served = served_get_paths()
    readiness, liveness = container()["readinessProbe"], container()["livenessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz" in served  # borrows a pool connection
    assert liveness["httpGet"]["path"] == "/healthz" in served  # no database: liveness stays off it
    for probe in (readiness, liveness):
        assert probe["httpGet"]["port"] == container()["ports"][0]["name"]
    annotations = objects()["Ingress"]["metadata"]["annotations"]
    alb = {k.removeprefix("alb.ingress.kubernetes.io/"): v for k, v in annotations.items()}
    assert alb["healthcheck-path"] == readiness["httpGet"]["path"]
    assert "/" not in served  # why the ALB's default health check path would mark every target unhealthy
    assert alb["target-type"] == "ip"
    assert (seconds(alb["healthcheck-interval-seconds"]), seconds(alb["healthcheck-timeout-seconds"]),
            seconds(alb["unhealthy-threshold-count"])) == (
        readiness["periodSeconds"], readiness["timeoutSeconds"], readiness["failureThreshold"])
    backend = objects()["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == objects()["Service"]["metadata"]["name"]
    assert backend["port"]["name"] == objects()["Service"]["spec"]["ports"][0]["name"]


#: psycopg: a cancelled query waits up to 5 s for the cancel, then up to 5 s more (timeout-ladders.md).
CANCEL_WAIT_S = 10.0


def test_shutdown_timing_fits_the_ladder() -> None:
    """Grace ≥ preStop + graceful_timeout + margin; graceful_timeout > request budget; the ALB drains
    longer than the longest request (the budget and psycopg's cancel wait) and no longer than the
    pod lives; every server keeps idle connections longer than the ALB."""
    cfg, spec = gunicorn_settings(), pod_spec()
    pre_stop_s = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace_s = spec["terminationGracePeriodSeconds"]
    budget_s = float(config_data()[PREFIX + "REQUEST_BUDGET_S"])
    assert cfg.graceful_timeout > budget_s > float(config_data()[PREFIX + "POOL_TIMEOUT_S"])
    assert grace_s >= pre_stop_s + cfg.graceful_timeout
    alb = objects()["Ingress"]["metadata"]["annotations"]
    attributes = dict(item.split("=") for key in ("load-balancer-attributes", "target-group-attributes")
                      for item in alb[f"alb.ingress.kubernetes.io/{key}"].split(","))
    assert budget_s + CANCEL_WAIT_S < seconds(attributes["deregistration_delay.timeout_seconds"]) <= grace_s
    assert seconds(attributes["idle_timeout.timeout_seconds"]) < cfg.keepalive


# -- the papers' values -------------------------------------------------------------------------


def paper_snippet(kind: str, marker: str) -> str:
    blocks = code_blocks(ROOT / "papers" / "timeout-ladders.md")
    return next(b.text for b in blocks if b.kind == kind and marker in b.text)


def test_the_values_are_the_timeout_ladder_papers() -> None:
    """The numbers come from papers/timeout-ladders.md; a change there (or here) fails until both agree.
    The paths differ on purpose: the paper's liveness probe asks /livez, which this app does not serve."""
    paper = yaml.safe_load(paper_snippet("yaml", "kind: Deployment"))["spec"]["template"]["spec"]
    (theirs,) = paper["containers"]
    assert pod_spec()["terminationGracePeriodSeconds"] == paper["terminationGracePeriodSeconds"]
    assert container()["lifecycle"] == theirs["lifecycle"]
    for probe in ("readinessProbe", "livenessProbe"):
        ours = {k: v for k, v in container()[probe].items() if k != "httpGet"}
        assert ours == {k: v for k, v in theirs[probe].items() if k != "httpGet"}, probe
    gunicorn_conf = dict(re.findall(r"^(\w+) = (\d+)$", paper_snippet("python", "# gunicorn.conf.py"), re.M))
    cfg = gunicorn_settings()
    assert (cfg.keepalive, cfg.timeout, cfg.graceful_timeout) == (
        int(gunicorn_conf["keepalive"]), int(gunicorn_conf["timeout"]), int(gunicorn_conf["graceful_timeout"]))
    alb = yaml.safe_load(paper_snippet("yaml", "alb.ingress.kubernetes.io/load-balancer-attributes"))
    key = "alb.ingress.kubernetes.io/load-balancer-attributes"
    assert objects()["Ingress"]["metadata"]["annotations"][key] == alb["metadata"]["annotations"][key]


# -- the README's staging guide -----------------------------------------------------------------


def staging_commands() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Running a drill against staging"):]
    return re.sub(r"\\\n\s*", " ", section[section.index("```bash") + 7: section.index("```", section.index("```bash") + 7)])


def test_the_readme_deploys_these_files_and_runs_the_drill_with_their_values() -> None:
    text = staging_commands()
    assert "docker build -f deploy/Dockerfile" in text and "kubectl apply -k deploy/k8s" in text
    secret = re.search(r"create secret generic (\S+) .*--from-literal=(\w+)=", text)
    ref = next(e for e in container()["env"] if e["name"] == PREFIX + "CONNINFO")["valueFrom"]["secretKeyRef"]
    assert secret and (secret.group(1), secret.group(2)) == (ref["name"], ref["key"])
    run = next(line for line in text.splitlines() if line.startswith("drills run "))
    argv = shlex.split(run)
    spec = catalog.get(argv[2])
    given = dict(argv[i + 1].split("=", 1) for i, token in enumerate(argv) if token == "-p")
    params = spec.params.from_mapping(given)
    deployed = AppSettings.from_env({**config_data(), PREFIX + "CONNINFO": "x", PREFIX + "STATE_DIR": "/"}).public()
    for param, name in spec.target_settings.items():  # what the drill compares with /config
        assert float(getattr(params, param)) == pytest.approx(float(deployed[name])), param
    replicas = objects()["Deployment"]["spec"]["replicas"]
    assert params.workers == replicas * gunicorn_settings().workers
    host = objects()["Ingress"]["spec"]["rules"][0]["host"]
    assert given["target_url"] == f"https://{host}" and host in given["allow_hosts"].split(",")


def test_a_copy_with_another_pool_size_fails_the_readme_check(tmp_path: Path, monkeypatch) -> None:
    """The check above can fail: a ConfigMap whose pool differs from the README's -p values."""
    shutil.copytree(K8S, tmp_path / "k8s")
    path = tmp_path / "k8s" / "configmap.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('POOL_MAX_SIZE: "4"', 'POOL_MAX_SIZE: "6"'),
                    encoding="utf-8")
    monkeypatch.setitem(globals(), "K8S", tmp_path / "k8s")
    with pytest.raises(AssertionError, match="pool_max_size"):
        test_the_readme_deploys_these_files_and_runs_the_drill_with_their_values()
