"""`evidence publish`: a Docker build context that serves a database as `evidence serve` does (the database, its
table counts, a wheel of this project, the settings and a Dockerfile), each platform's files, and the commands."""

from __future__ import annotations

import configparser
import errno
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import yaml

from . import store
from .errors import EvidenceError
from .web import server

PLATFORMS = ("cloudrun", "fly", "kubernetes")
PORT = 8001
USER_ID = 10001  # the image's user: not root, and no user of the host by chance
CPUS = 2  # what each platform is asked for: the benchmarked 2-core replica
# Server processes of a replica: four per core. Under load the system shares the CPU between processes, so a short
# page is not held up behind a long one answered in the same process (README, "Serving many readers").
WORKERS = 4 * CPUS
MEMORY = "2Gi"
HEALTH_PATH = "/-/versions.json"
DB_NAME = "evidence.db"  # Datasette names the database after the file: pages stay at /evidence/...
INSPECT_NAME = DB_NAME + ".inspect.json"
SETTINGS_NAME = "settings.json"
METADATA_NAME = "metadata.json"
# Datasette metadata of every image: the database served under its hash, cached for a year (web/caching.py)
METADATA = {"plugins": {"evidence": {"hashed_urls": True}}}
WHEELS = "wheels"
DEFAULT_CACHE_TTL = 3600
COPY_CHUNK = 8 * 2**20


class PublishRefused(EvidenceError):
    """A database, folder or installation that publish cannot build a context from; the message says why."""


@dataclass
class Context:
    """What publish wrote in ``folder``, for the commands it prints."""

    folder: Path
    name: str
    image: str
    wheel: str
    settings: dict
    platform: str | None


def served_settings(
    cache_ttl: int | None = None,
    sql_time_limit_ms: int | None = None,
    max_returned_rows: int | None = None,
    facet_time_limit_ms: int | None = None,
) -> dict:
    """The Datasette settings a published replica serves with: the ones given, else Datasette's defaults, over
    evidence serve's own; downloads of the database file off (see README, "Serving many readers")."""
    defaults = {setting.name: setting.default for setting in server.DATASETTE_SETTINGS}
    given = {
        "sql_time_limit_ms": sql_time_limit_ms,
        "max_returned_rows": max_returned_rows,
        "facet_time_limit_ms": facet_time_limit_ms,
        "default_facet_size": None,
        "default_cache_ttl": DEFAULT_CACHE_TTL if cache_ttl is None else cache_ttl,
    }
    chosen = {name: defaults[name] if value is None else value for name, value in given.items()}
    return {**server.SETTINGS, **chosen, "allow_download": False}


def publish(
    db: Path,
    out: Path,
    *,
    name: str = "evidence",
    platform: str | None = None,
    image: str | None = None,
    settings: dict | None = None,
    workers: int = WORKERS,
    force: bool = False,
    copying: Callable[[int, int], None] | None = None,
) -> Context:
    """Write the build context for ``db`` into ``out``; ``copying(done, total)`` is told the bytes of a database
    copied (rather than linked) as they go. PublishRefused before anything is written if it cannot be done."""
    store.connect_readonly(db).close()  # NotAnEvidenceDatabase if it is not one
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?", name):
        raise PublishRefused(
            f"--name {name}: use lower-case letters, digits and hyphens, a letter first, at most 49 characters "
            "(a name Cloud Run, Fly, Kubernetes and Docker all take)"
        )
    root = project_root()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise PublishRefused(f"--out {out}: {'not a folder' if not out.is_dir() else 'not empty; add --force'}")
    out.mkdir(parents=True, exist_ok=True)
    place_database(db, out / DB_NAME, copying)
    server.write_inspect_file(out / DB_NAME, out / INSPECT_NAME)
    digest = json.loads((out / INSPECT_NAME).read_text())["evidence"]["hash"]
    wheel = build_wheel(root, out / WHEELS)
    settings = settings if settings is not None else served_settings()
    (out / SETTINGS_NAME).write_text(json.dumps(settings, indent=2) + "\n")
    (out / METADATA_NAME).write_text(json.dumps(METADATA, indent=2) + "\n")
    context = Context(out, name, image or f"{name}:{digest[:12]}", wheel, settings, platform)
    (out / "Dockerfile").write_text(dockerfile(wheel, workers))
    kept = ["Dockerfile", DB_NAME, INSPECT_NAME, SETTINGS_NAME, METADATA_NAME, f"{WHEELS}/{wheel}"]
    (out / ".dockerignore").write_text("*\n" + "".join(f"!{path}\n" for path in kept))  # only what the image takes
    if platform == "kubernetes":
        (out / "kubernetes.yaml").write_text(yaml.safe_dump_all(kubernetes(context), sort_keys=False))
    elif platform == "fly":
        (out / "fly.toml").write_text(fly_toml(name))
    return context


def project_root() -> Path:
    """The source checkout this package runs from (the folder with pyproject.toml above it); PublishRefused if it was
    installed from a wheel, which has no source to build the image's wheel from."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "evidence"' not in pyproject.read_text(encoding="utf-8"):
        raise PublishRefused(
            f"evidence publish needs the source checkout of evidence (a folder with pyproject.toml); "
            f"this one runs from {root}, installed from a wheel"
        )
    return root


def place_database(db: Path, target: Path, copying: Callable[[int, int], None] | None) -> None:
    """``db`` at ``target``: a hard link on the same file system, else a copy (told to ``copying`` as it goes)."""
    if target.exists() and os.path.samefile(db, target):
        return  # published into its own folder: it is there already
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.link(db, target)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    total = db.stat().st_size
    done = 0
    with db.open("rb") as source, target.open("wb") as copy:
        while chunk := source.read(COPY_CHUNK):
            copy.write(chunk)
            done += len(chunk)
            if copying:
                copying(done, total)
    shutil.copystat(db, target)


def build_wheel(root: Path, folder: Path) -> str:
    """A wheel of the source at ``root`` in ``folder``, built by pip from a clean copy of the source (so that no
    stale build/ of the checkout gets into it); its file name. PublishRefused if it cannot be built or lacks the
    page templates or the entry points."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    with tempfile.TemporaryDirectory(prefix="evidence-wheel-") as scratch:
        source = Path(scratch, "evidence")
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, source / name)
        shutil.copytree(root / "evidence", source / "evidence", ignore=shutil.ignore_patterns("__pycache__"))
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check"]
        built = subprocess.run([*pip, "-q", "-w", str(folder), str(source)], capture_output=True, text=True)
    wheels = sorted(folder.glob("evidence-*-py3-none-any.whl"))
    if built.returncode or len(wheels) != 1:
        reason = (built.stderr.strip().splitlines() or ["no wheel written"])[-1]
        raise PublishRefused(
            f"building the wheel of {root} failed ({reason}); publish builds it with this environment's setuptools "
            f"and wheel: pip install -e '{root}[publish]'"
        )
    check_wheel(wheels[0], root)
    return wheels[0].name


def check_wheel(wheel: Path, root: Path) -> None:
    """PublishRefused unless ``wheel`` holds every page template of ``root`` and the two entry points."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        points = configparser.ConfigParser()
        entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        points.read_string(archive.read(entry_points[0]).decode() if entry_points else "")
    templates = {p.relative_to(root).as_posix() for p in (root / "evidence/web/templates").glob("*.html")}
    missing = sorted(templates - names)
    if not points.has_option("console_scripts", "evidence"):
        missing.append("the evidence command (console_scripts)")
    if not points.has_option("datasette", "evidence"):
        missing.append("the Datasette plugin (entry point datasette: evidence)")
    if missing:
        raise PublishRefused(f"{wheel.name} lacks {', '.join(missing)}; check [tool.setuptools] in pyproject.toml")


def serve_command(workers: int) -> list[str]:
    """The image's command, run in its /app (or in the context folder itself): evidence serve, as benchmarked."""
    counts_and_settings = ["--inspect-file", INSPECT_NAME, "--settings", SETTINGS_NAME, "--metadata", METADATA_NAME]
    return ["evidence", "serve", DB_NAME, *counts_and_settings, "--host", "0.0.0.0", "--workers", str(workers)]


def health_check_command() -> list[str]:
    """A request for the health path with Python's urllib (the slim image has no curl): exit 0 if it answers 200."""
    code = (
        "import os, urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:%s{HEALTH_PATH}' % os.environ.get('PORT', '{PORT}'), timeout=4)"
    )
    return ["python", "-c", code]


def dockerfile(wheel: str, workers: int) -> str:
    """The image: this project's wheel installed, the database, its counts and settings in /app, run as a user
    that cannot write them, on $PORT."""
    return "\n".join(
        [
            "# Written by `evidence publish`: run it again rather than edit this file.",
            "FROM python:3.11-slim",
            "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
            f"COPY {WHEELS}/{wheel} /tmp/{WHEELS}/",
            f"RUN pip install --no-cache-dir /tmp/{WHEELS}/{wheel} && rm -r /tmp/{WHEELS}",
            f"RUN useradd --uid {USER_ID} --user-group --no-create-home --home-dir /nonexistent "
            "--shell /usr/sbin/nologin evidence",
            "WORKDIR /app",
            "# readable by the server's user (whatever their mode on this machine); /app itself stays root's",
            f"COPY --chown={USER_ID}:{USER_ID} {DB_NAME} {INSPECT_NAME} {SETTINGS_NAME} {METADATA_NAME} ./",
            f"USER {USER_ID}:{USER_ID}",
            f"ENV PORT={PORT}",
            f"EXPOSE {PORT}",
            "HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD "
            + json.dumps(health_check_command()),
            "CMD " + json.dumps(serve_command(workers)),
            "",
        ]
    )


def kubernetes(context: Context) -> list[dict]:
    """A Deployment of the image (non-root, read-only root file system, probes on the health path), a Service in
    front of it and a HorizontalPodAutoscaler that adds replicas when their CPU is busy."""
    name, labels = context.name, {"app": context.name}
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "timeoutSeconds": 5}
    container = {
        "name": "evidence",
        "image": context.image,
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": [{"name": "PORT", "value": str(PORT)}],
        "resources": {"requests": {"cpu": str(CPUS), "memory": MEMORY}, "limits": {"cpu": str(CPUS), "memory": MEMORY}},
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {**probe, "initialDelaySeconds": 30, "periodSeconds": 20, "failureThreshold": 3},
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "enableServiceLinks": False,  # no service variables in the environment
        "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID},
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        },
    }
    return [deployment, service, autoscaler]


def fly_toml(name: str) -> str:
    """Fly's configuration: the Dockerfile beside it, its port, a check on the health path, 2 dedicated CPUs."""
    return f"""# Written by `evidence publish`: run it again rather than edit this file.
app = {json.dumps(name)}

[build]
  dockerfile = "Dockerfile"

[http_service]
  internal_port = {PORT}
  force_https = true
  min_machines_running = 1

  [[http_service.checks]]
    method = "GET"
    path = "{HEALTH_PATH}"
    interval = "15s"
    timeout = "5s"
    grace_period = "30s"

[[vm]]
  cpu_kind = "performance"
  cpus = {CPUS}
  memory = "4gb"
"""


def datasette_publish(context: Context, platform: str) -> list[str]:
    """The `datasette publish` command that deploys the same database, wheel and settings with Datasette's own
    Dockerfile (plain `datasette serve`, one process): the wheels folder goes in as a static mount, which
    datasette publish copies into its build folder, and is installed from there."""
    options = " ".join(f"--setting {name} {setting_text(value)}" for name, value in context.settings.items())
    command = ["datasette", "publish", platform, str(context.folder / DB_NAME)]
    command += ["--static", f"{WHEELS}:{context.folder / WHEELS}", "--install", f"{WHEELS}/{context.wheel}"]
    command += ["--metadata", str(context.folder / METADATA_NAME), "--extra-options", options]
    if platform == "cloudrun":
        command += ["--service", context.name, "--cpu", str(CPUS), "--memory", MEMORY, "--max-instances", "10"]
    else:
        command += ["--app", context.name]
    return command


def setting_text(value) -> str:
    """A setting's value as `datasette serve --setting` takes it."""
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def commands(context: Context) -> list[str]:
    """The commands that build and run or deploy the context, one per line (comments start with #)."""
    folder, image = str(context.folder), context.image
    run = ["docker", "run", "--rm", "-p", f"{PORT}:{PORT}", image]
    lines = [
        "# build the image and run it here:",
        shlex.join(["docker", "build", "-t", image, folder]) + " && " + shlex.join(run),
    ]
    if context.platform == "cloudrun":
        deploy = ["gcloud", "run", "deploy", context.name, "--source", folder, "--port", str(PORT), "--cpu", str(CPUS)]
        deploy += ["--memory", MEMORY, "--max-instances", "10", "--allow-unauthenticated"]
        lines += ["# deploy to Cloud Run (Cloud Build builds the Dockerfile):", shlex.join(deploy)]
        lines += ["# or with Datasette's own Dockerfile:", shlex.join(datasette_publish(context, "cloudrun"))]
    elif context.platform == "fly":
        lines += [
            f"# deploy to Fly (the first time: fly apps create {context.name}):",
            f"cd {shlex.quote(folder)} && fly deploy",
        ]
        if find_spec("datasette_publish_fly"):
            lines += ["# or with Datasette's own Dockerfile:", shlex.join(datasette_publish(context, "fly"))]
    elif context.platform == "kubernetes":
        lines += [
            "# push the image where the cluster pulls from (or publish again with --image REGISTRY/NAME:TAG), then apply:",
            shlex.join(["docker", "push", image]),
            shlex.join(["kubectl", "apply", "-f", str(context.folder / "kubernetes.yaml")]),
        ]
    return lines
