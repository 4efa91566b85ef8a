"""`evidence publish` and the command its image runs: the build context made from the bundled database, its wheel
installed into a fresh virtual environment, the Dockerfile's command run from the context (as a user who cannot
write it, where the tests can switch to one) and compared with `evidence serve` of the same database; the health
check, the Kubernetes manifest, `datasette publish cloudrun` with a stand-in gcloud, and the errors."""

import gzip
import http.client
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from browsing import free_port, running
from click.testing import CliRunner
from conftest import one_error_line

from evidence import publish as publishing
from evidence.cli import cli

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def evidence(*arguments: str, **kwargs) -> subprocess.CompletedProcess:
    """The evidence command of this checkout, run as a user runs it."""
    return subprocess.run([sys.executable, "-m", "evidence.cli", *arguments], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def shared(claims_db):
    """A folder any user can read and none but root can write (mode 0755; pytest's own are 0700), holding a copy of
    the bundled database readable by all, as a folder served from is."""
    folder = Path(tempfile.mkdtemp(prefix="evidence-publish-"))
    folder.chmod(0o755)
    (folder / "source").mkdir(mode=0o755)
    db = folder / "source" / "evidence.db"
    shutil.copy(claims_db, db)
    db.chmod(0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def context(shared):
    """`evidence publish --platform kubernetes` of the bundled database: the context folder and the printed commands."""
    done = evidence(
        "publish", str(shared / "source" / "evidence.db"), "--out", str(shared / "context"), "--platform", "kubernetes"
    )
    assert done.returncode == 0, done.stderr
    return shared / "context", done.stdout.splitlines()


def dockerfile_instruction(context: Path, name: str) -> str:
    """The argument of the Dockerfile's instruction ``name`` (one line each)."""
    lines = [line for line in (context / "Dockerfile").read_text().splitlines() if line.startswith(name + " ")]
    assert len(lines) == 1, lines
    return lines[0][len(name) + 1 :]


@pytest.fixture(scope="module")
def venv(shared, context):
    """A fresh virtual environment with only the context's wheel installed (its dependencies from the package index).
    Its interpreter is copied rather than linked, so that another user can run it wherever Python itself lives."""
    folder = shared / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--copies", str(folder)], check=True)
    wheels = sorted((context[0] / "wheels").glob("*.whl"))
    assert [w.name for w in wheels] == ["evidence-0.1.0-py3-none-any.whl"]
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    installed = subprocess.run([*pip, str(wheels[0])], capture_output=True, text=True, env=clean_environment(folder))
    assert installed.returncode == 0, installed.stderr
    return folder


def clean_environment(venv: Path, **extra: str) -> dict:
    """The environment of a program of ``venv`` alone: nothing of this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PORT")}
    return {**env, "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}", **extra}


@pytest.fixture(scope="module")
def other_user(venv) -> list[str]:
    """How to run a command as a user who cannot write the shared folder: as nobody (setpriv) when the tests run as
    root, else as the current user (the folders are then made read-only); skipped if neither can be had."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("the tests run as root and setpriv (util-linux) is not installed to run the server as nobody")
    # the servers' interpreters as they are started: the venv's from its console script, this one by setpriv itself
    for probe in ([*NOBODY, "/bin/sh", "-c", f"{venv}/bin/python -c pass"], [*NOBODY, sys.executable, "-c", "pass"]):
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"the tests run as root and cannot run {shlex.join(probe)} as nobody: {done.stderr.strip()}")
    return NOBODY


@contextmanager
def read_only(folder: Path):
    """``folder`` that the user the servers run as cannot write (for root's tests it is root's, mode 0755)."""
    if os.geteuid() == 0:
        yield folder
        return
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


@pytest.fixture(scope="module")
def published_server(context, venv, other_user):
    """The Dockerfile's CMD run from the context folder with the fresh environment, PORT set, as another user: its
    base URL and process."""
    folder = context[0]
    command = json.loads(dockerfile_instruction(folder, "CMD"))
    env = clean_environment(venv, PORT=str(free_port()))
    with read_only(folder), running([*other_user, *command], cwd=folder, env=env) as served:
        yield served


@pytest.fixture(scope="module")
def published(published_server) -> str:
    return published_server[0]


@pytest.fixture(scope="module")
def reference(shared, context):
    """`evidence serve` of the same database from this checkout's environment, with the image's metadata."""
    env = {**os.environ, "PORT": str(free_port())}
    metadata = ["--metadata", str(context[0] / "metadata.json")]
    with running(
        [sys.executable, "-m", "evidence.cli", "serve", str(shared / "source" / "evidence.db"), "-w", "1", *metadata],
        env=env,
    ) as (base, _):
        yield base


def get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of ``url``, redirects followed."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def what_a_reader_sees(url: str) -> tuple:
    """What must be the same from both servers: status and content type, and of the body the rows and columns of
    JSON, the whole of other data, and for HTML the headings and the links to studies (timings differ)."""
    status, kind, body = get(url)
    if kind.startswith("application/json"):
        data = json.loads(body)
        body = (data["columns"], data["rows"]) if isinstance(data, dict) and "rows" in data else data
    elif kind.startswith("text/html"):
        text = body.decode()
        body = (re.findall(r"<h1[^>]*>(.*?)</h1>", text, re.S), re.findall(r'href="([^"]*/studies/[^"]*)"', text))
        assert body[0], f"{url}: no <h1>"
    return status, kind, body


def some_ids(db: Path) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        study = conn.execute("select key from studies order by key limit 1").fetchone()[0]
        claim = conn.execute("select id from claims order by id limit 1").fetchone()[0]
    conn.close()
    return study, claim


def test_the_published_command_answers_as_evidence_serve(shared, published, reference):
    study, claim = some_ids(shared / "source" / "evidence.db")
    paths = [
        "/",
        "/evidence/conditions/chronic-low-back-pain",
        f"/evidence/studies/{study}",
        f"/evidence/claims/{claim}",
        "/evidence/study_cards.json",
        "/evidence/study_cards.bib",
        "/evidence/studies_for_condition.json?condition=lumbago",
        "/-/evidence-map",
    ]
    for path in paths:
        ours, theirs = what_a_reader_sees(published + path), what_a_reader_sees(reference + path)
        assert ours == theirs, path
        assert ours[0] == 200, path
    rows = what_a_reader_sees(published + "/evidence/study_cards.json?_size=max")[2][1]
    assert len(rows) == 32
    assert len(re.findall(rb"^@\w+\{", what_a_reader_sees(published + "/evidence/study_cards.bib")[2], re.M)) == 32


def test_the_published_server_serves_with_its_settings(context, published, reference):
    settings = json.loads((context[0] / "settings.json").read_text())
    served = json.loads(get(published + "/-/settings.json")[2])
    assert {name: served[name] for name in settings} == settings
    assert settings["default_cache_ttl"] == 3600 and settings["allow_download"] is False
    assert json.loads(get(reference + "/-/settings.json")[2])["default_cache_ttl"] == 5  # Datasette's, as before
    assert get(published + "/evidence.db")[0] == 403  # no download of the database file


def test_the_published_server_serves_under_the_hash_cached_and_compressed(published):
    """/evidence/... moves to /evidence-HASH/..., whose answers a CDN may keep a year; large ones are gzipped."""
    host, port = urllib.parse.urlsplit(published).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/evidence/study_cards.bib?_size=5")
    moved = conn.getresponse()
    moved.read()
    location = moved.getheader("location")
    assert moved.status == 302 and re.fullmatch(r"/evidence-[0-9a-f]{7}/study_cards\.bib\?_size=5", location)
    conn.request("GET", location.split("?")[0], headers={"Accept-Encoding": "gzip"})
    export = conn.getresponse()
    assert export.status == 200 and export.getheader("content-encoding") == "gzip"
    assert export.getheader("cache-control") == "public, max-age=31536000, immutable"
    assert gzip.decompress(export.read()) == get(published + "/evidence/study_cards.bib")[2]
    conn.request("GET", "/")
    home = conn.getresponse()
    home.read()
    assert home.status == 200 and home.getheader("cache-control") == "public, max-age=3600"
    conn.close()


def test_the_published_server_runs_as_another_user_and_writes_nothing_in_its_folder(context, published_server):
    base, server = published_server
    assert get(base + "/evidence/study_cards.json")[0] == 200
    assert Path(f"/proc/{server.pid}").stat().st_uid == (65534 if os.geteuid() == 0 else os.geteuid())
    names = {p.relative_to(context[0]).as_posix() for p in context[0].rglob("*")}
    made = {".dockerignore", "Dockerfile", "kubernetes.yaml", "settings.json", "metadata.json", "wheels"}
    assert names == made | {"evidence.db", "evidence.db.inspect.json", "wheels/evidence-0.1.0-py3-none-any.whl"}


def test_the_health_check_passes_on_the_server_and_fails_without_one(context, venv, published):
    command = dockerfile_instruction(context[0], "HEALTHCHECK").split(" CMD ", 1)[1]
    check = json.loads(command)
    port = published.rsplit(":", 1)[1]
    assert subprocess.run(check, env=clean_environment(venv, PORT=port), timeout=30).returncode == 0
    idle = subprocess.run(check, env=clean_environment(venv, PORT=str(free_port())), capture_output=True, timeout=30)
    assert idle.returncode != 0


def test_the_kubernetes_manifest_agrees_with_the_image(context, published):
    folder, printed = context
    deployment, service, autoscaler = yaml.safe_load_all((folder / "kubernetes.yaml").read_text())
    assert [deployment["kind"], service["kind"], autoscaler["kind"]] == [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
    ]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    exposed = int(dockerfile_instruction(folder, "EXPOSE"))
    assert f"ENV PORT={exposed}" in (folder / "Dockerfile").read_text()
    assert container["ports"] == [{"name": "http", "containerPort": exposed}]
    assert {"name": "PORT", "value": str(exposed)} in container["env"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    health = re.search(r"(/-/[\w.]+)", dockerfile_instruction(folder, "HEALTHCHECK")).group(1)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": health, "port": "http"}
    assert get(published + health)[0] == 200
    user = dockerfile_instruction(folder, "USER").split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True and str(pod["securityContext"]["runAsUser"]) == user
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"]["cpu"] == "2"
    image = container["image"]
    assert image.startswith("evidence:") and len(image.split(":")[1]) == 12
    assert f"docker push {image}" in printed and f"kubectl apply -f {folder / 'kubernetes.yaml'}" in printed


def container_engine() -> tuple[str, str]:
    """docker or podman, if one can run containers here; else (None, why not)."""
    reasons = []
    for engine in ("docker", "podman"):
        if shutil.which(engine) is None:
            reasons.append(f"no {engine} command")
            continue
        info = subprocess.run([engine, "info"], capture_output=True, text=True, timeout=60)
        if info.returncode == 0:
            return engine, ""
        last = (info.stderr.strip().splitlines() or ["no reason given"])[-1]
        reasons.append(f"`{engine} info` fails ({last})")
    return None, "; ".join(reasons)


def test_the_image_builds_and_answers(context):
    engine, why = container_engine()
    if engine is None:
        pytest.skip(f"no container engine can run here: {why}")
    folder = context[0]
    tag = f"evidence-publish-test:{os.getpid()}"
    subprocess.run([engine, "build", "-t", tag, str(folder)], check=True, timeout=900)
    port = free_port()
    started = subprocess.run(
        [engine, "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8001", tag], capture_output=True, text=True, check=True
    )
    name = started.stdout.strip()
    try:
        for _ in range(300):
            try:
                status, kind, body = get(f"http://127.0.0.1:{port}/evidence/study_cards.json")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200 and len(json.loads(body)["rows"]) > 0
        user = subprocess.run([engine, "exec", name, "id", "-u"], capture_output=True, text=True).stdout.strip()
        assert user == "10001"
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True)
        subprocess.run([engine, "rmi", "-f", tag], capture_output=True)


def test_datasette_publish_cloudrun_builds_with_the_same_wheel_and_settings(shared, venv, tmp_path):
    """The printed `datasette publish cloudrun` run with a stand-in gcloud that keeps the folder it is asked to build:
    its Dockerfile installs the context's wheel and serves with the settings; its command, run there with the same
    wheel installed, serves the evidence pages with them."""
    out = shared / "cloudrun"
    done = evidence(
        "publish", str(shared / "source" / "evidence.db"), "--out", str(out), "--platform", "cloudrun", "--name", "lbp"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"gcloud run deploy lbp --source {out} --port 8001 --cpu 2") for line in lines)
    (publish_line,) = [line for line in lines if line.startswith("datasette publish cloudrun ")]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "gcloud").write_text(
        '#!/bin/sh\ncase "$1 $2" in\n  "config get-value") echo test-project ;;\n'
        '  "builds submit") cp -r . "$CAPTURED" ;;\nesac\nexit 0\n'
    )
    (fake / "gcloud").chmod(0o755)
    build = tmp_path / "build"
    env = clean_environment(venv, CAPTURED=str(build))
    env["PATH"] = f"{fake}:{env['PATH']}"
    published = subprocess.run(shlex.split(publish_line), env=env, capture_output=True, text=True, timeout=120)
    assert published.returncode == 0, published.stderr
    wheel = next((out / "wheels").glob("*.whl")).name
    dockerfile = (build / "Dockerfile").read_text()
    assert f"RUN pip install -U datasette wheels/{wheel}\n" in dockerfile
    assert (build / "wheels" / wheel).read_bytes() == (out / "wheels" / wheel).read_bytes()
    settings = json.loads((out / "settings.json").read_text())
    for name, value in settings.items():
        assert f"--setting {name} {json.dumps(value).replace('true', 'on').replace('false', 'off')} " in dockerfile
    # the image's steps after the install, in the environment where that same wheel is installed
    inspect = re.search(r"^RUN (datasette inspect .*)$", dockerfile, re.M).group(1)
    subprocess.run(shlex.split(inspect), cwd=build, env=env, check=True)
    command = re.search(r"^CMD (.*)$", dockerfile, re.M).group(1)
    env["PORT"] = str(free_port())
    with running(["/bin/sh", "-c", command], cwd=build, env=env) as (base, _):
        assert json.loads(get(base + "/-/settings.json")[2])["default_cache_ttl"] == settings["default_cache_ttl"]
        status, kind, body = get(base + "/evidence/conditions/chronic-low-back-pain")
        assert status == 200 and "Chronic low back pain" in body.decode()


def test_fly_writes_its_configuration_and_the_deploy_command(shared):
    out = shared / "fly"
    done = evidence(
        "publish",
        str(shared / "source" / "evidence.db"),
        "--out",
        str(out),
        "--platform",
        "fly",
        "--name",
        "lbp-evidence",
    )
    assert done.returncode == 0, done.stderr
    fly = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later").loads(
        (out / "fly.toml").read_text()
    )
    assert fly["app"] == "lbp-evidence" and fly["build"]["dockerfile"] == "Dockerfile"
    assert fly["http_service"]["internal_port"] == int(dockerfile_instruction(out, "EXPOSE"))
    assert fly["http_service"]["checks"][0]["path"] == "/-/versions.json" and fly["vm"][0]["cpus"] == 2
    assert f"cd {out} && fly deploy" in done.stdout.splitlines()


def test_serve_from_a_folder_it_cannot_write(shared, other_user):
    """`evidence serve` without an inspect file, as a user who cannot write the database's folder: it counts the rows
    into a temporary file, serves, and leaves the folder as it was (no -wal, -shm or inspect file)."""
    folder = shared / "read-only"
    folder.mkdir(mode=0o755)
    shutil.copy(shared / "source" / "evidence.db", folder / "evidence.db")
    (folder / "evidence.db").chmod(0o644)
    env = {**os.environ, "PORT": str(free_port())}
    command = [*other_user, sys.executable, "-m", "evidence.cli", "serve", "evidence.db", "-w", "1"]
    with read_only(folder), running(command, cwd=folder, env=env) as (base, server):
        assert get(base + "/evidence/study_cards.json")[0] == 200
        assert get(base + "/evidence/conditions/pain")[0] == 200
        # (exports start a process of this interpreter, which another user may not run here: the published server,
        # whose environment they can run, is tested with exports above)
        server.terminate()
        assert "cannot be written: counting the rows of evidence.db for this run only" in server.communicate()[1]
    assert sorted(p.name for p in folder.iterdir()) == ["evidence.db"]


def run(*arguments: str) -> str:
    """The command's one line of error, asserting exit status 2 and no traceback."""
    return one_error_line(list(arguments), 2)


def test_publish_refuses_a_database_evidence_did_not_build(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert "not an evidence database" in run("publish", str(other), "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_publish_refuses_a_name_the_platforms_do_not_take(shared, tmp_path):
    line = run("publish", str(shared / "source" / "evidence.db"), "--out", str(tmp_path / "out"), "--name", "My Site")
    assert line.startswith("Error: --name My Site: use lower-case letters, digits and hyphens")
    assert not (tmp_path / "out").exists()


def test_publish_refuses_a_folder_that_is_not_empty_unless_forced(shared, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    line = run("publish", str(shared / "source" / "evidence.db"), "--out", str(out))
    assert line == f"Error: --out {out}: not empty; add --force"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    forced = CliRunner().invoke(cli, ["publish", str(shared / "source" / "evidence.db"), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (out / "notes.txt").read_text() == "mine\n" and (out / "Dockerfile").exists()
    assert "docker build -t evidence:" in forced.output


@pytest.mark.parametrize(
    "text, message",
    [
        ("sql_time_limit_ms: 3000\n", "not a JSON file of settings"),
        ("[1, 2]", "should be a JSON object of Datasette settings"),
        (
            '{"sql_time_limt_ms": 3000}',
            "'sql_time_limt_ms' is not a Datasette setting (did you mean sql_time_limit_ms?)",
        ),
        ('{"sql_time_limit_ms": "3s"}', 'sql_time_limit_ms should be a whole number, not "3s"'),
        ('{"allow_download": 1}', "allow_download should be true or false, not 1"),
    ],
)
def test_serve_refuses_bad_settings(shared, tmp_path, no_server, text, message):
    settings = tmp_path / "settings.json"
    settings.write_text(text)
    line = run("serve", str(shared / "source" / "evidence.db"), "--settings", str(settings))
    assert line.startswith(f"Error: --settings {settings}: ") and message in line


def test_publish_copies_a_database_on_another_file_system(shared):
    """Where no hard link can be made (here /dev/shm, a tmpfs), the database is copied, and publish says so."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or shm.stat().st_dev == (shared / "source").stat().st_dev:
        pytest.skip("no writable /dev/shm on another file system than the temporary folder")
    out = Path(tempfile.mkdtemp(dir=shm, prefix="evidence-publish-"))
    try:
        db = shared / "source" / "evidence.db"
        done = evidence("publish", str(db), "--out", str(out), "--force")
        assert done.returncode == 0, done.stderr
        assert f"copying {db} into {out} (another file system: no hard link)" in done.stderr
        assert (out / "evidence.db").read_bytes() == db.read_bytes()
        assert (out / "evidence.db").stat().st_ino != db.stat().st_ino
    finally:
        shutil.rmtree(out)


def test_publish_into_the_database_s_own_folder_keeps_it(shared, tmp_path):
    db = tmp_path / "evidence.db"
    shutil.copy(shared / "source" / "evidence.db", db)
    done = evidence("publish", str(db), "--out", str(tmp_path), "--force")
    assert done.returncode == 0, done.stderr
    assert db.read_bytes() == (shared / "source" / "evidence.db").read_bytes()
    assert (tmp_path / "Dockerfile").exists() and (tmp_path / "evidence.db.inspect.json").exists()


def test_publish_from_an_installed_wheel_says_it_needs_the_source(shared, venv, tmp_path):
    """The evidence command of the wheel (as in the image) has no source to build a wheel from: one line, exit 2."""
    command = [
        str(venv / "bin" / "evidence"),
        "publish",
        str(shared / "source" / "evidence.db"),
        "--out",
        str(tmp_path / "out"),
    ]
    done = subprocess.run(command, env=clean_environment(venv), capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Error: evidence publish needs the source checkout of evidence")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_replica_runs_the_benchmarked_number_of_server_processes(context):
    """The command's default, the Dockerfile and publish.WORKERS agree: four processes a core."""
    command = json.loads(dockerfile_instruction(context[0], "CMD"))
    assert command[command.index("--workers") + 1] == str(publishing.WORKERS) == str(4 * publishing.CPUS)
