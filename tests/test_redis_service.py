"""Several mock instances on one real Redis behave as one service.

Two ``serve`` processes share a Redis: a job submitted through one is read, cancelled, pressed and
called back through the other; faults, journals and the manual clock are shared; ``maxJobs`` is exact
across both (over HTTP, and in 200 trials of 64 racing admissions spread over two store instances).
A Redis restart mid-run answers 503 in the vendor envelope while it is down and recovers with every
job kept. A wrong URL stops the mock at start with one line. Loopback only; every process is
stopped by its PID.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import AUTH
from helpers import FAST_DONE
from helpers import meme_face_job
from redis_server import RedisServer
from redis_server import redis_server  # noqa: F401  (fixture)
from redis_server import redis_url  # noqa: F401  (fixture)
from test_callback_restart import SlowReceiver
from test_serve_process import HEADERS
from test_serve_process import Server
from test_serve_process import assert_exactly_three_admitted
from test_serve_process import face  # noqa: F401  (fixture)
from test_serve_process import put_account
from test_serve_process import start  # noqa: F401  (fixture)
from test_serve_process import submit

from mock_server import MockConfig
from mock_server import create_app
from mock_server import mock_of
from mock_server.accounts import Account
from mock_server.jobs import Job
from mock_server.store import open_backend
from mock_server.store.base import Candidate
from mock_server.store.base import Rejected

pytestmark = pytest.mark.slow

TRIALS = 200
RACERS = 64
LIMIT = 5
WAIT = 60.0
T0 = 1767225600.0


def _get(url: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{url}{path}", params=params, headers=HEADERS, timeout=10)


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:  # noqa: F811
    """Two ``serve`` processes on one Redis (manual clock, one prefix), stopped by PID at the end."""
    url, logs = redis_server.url(), tmp_path_factory.mktemp("pair")
    servers = [Server(logs / f"{name}.log", "--store", url, "--clock", "manual") for name in "ab"]
    try:
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.cleanup()


def test_two_instances_are_one_service(pair, face):  # noqa: F811
    receiver = SlowReceiver(0.0)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    a, b = pair
    try:

        kept = submit(a.url, face, replyUrl=receiver.url).json()["jobid"]
        cancelled = submit(a.url, face).json()["jobid"]
        assert _get(b.url, "/v1/pixverse/jobs/", jobid=kept).json()["status"] in ("created", "started")
        answer = _get(b.url, "/v1/pixverse/jobs/cancel/", jobid=cancelled)
        assert answer.status_code == 200, answer.text
        assert _get(a.url, "/v1/pixverse/jobs/", jobid=cancelled).json()["status"] == "cancelled"

        # one manual clock: advanced through B, read through A
        advanced = requests.post(f"{b.url}/__mock/clock/advance", json={"seconds": 10}, headers=HEADERS, timeout=10)
        assert advanced.status_code == 200
        assert _get(a.url, "/__mock/clock").json()["now"] == advanced.json()["now"]
        assert _get(a.url, "/v1/pixverse/jobs/", jobid=kept).json()["status"] == "completed"

        pressed = requests.post(f"{b.url}/v1/pixverse/button/", json={"jobid": kept, "button": "🔀"},
                                headers=HEADERS, timeout=10)
        assert pressed.status_code == 200, pressed.text
        assert _get(a.url, "/v1/pixverse/jobs/", jobid=pressed.json()["jobid"]).status_code == 200

        # the callback of the job is delivered once, by one of the two
        receiver.wait_for("the callback", lambda arrived: kept in arrived)
        entries = requests.get(f"{a.url}/__mock/wait/callbacks", params={"jobid": kept, "timeout": 10},
                               headers=HEADERS, timeout=20)
        assert entries.status_code == 200 and entries.json()["delivered"] is True

        # a fault queued through A is answered by B; B's journal holds A's requests
        queued = requests.post(f"{a.url}/__mock/faults", json={"fault": "server_error:503", "endpoint": "jobs"},
                               headers=HEADERS, timeout=10)
        assert queued.status_code == 201
        faulted = _get(b.url, "/v1/pixverse/jobs/", jobid=kept)
        assert faulted.status_code == 503 and faulted.json()["code"] == 503
        assert _get(a.url, "/v1/pixverse/jobs/", jobid=kept).status_code == 200
        journal = _get(b.url, "/__mock/journal/requests").json()["entries"]
        assert sum(e.get("operation") == "meme_face" for e in journal) == 2  # both submits went to A
        assert receiver.counts()[kept] == 1
    finally:
        receiver.stopping.set()
        receiver.shutdown()
        receiver.server_close()


def test_max_jobs_is_exact_over_http_across_two_instances(pair, face):  # noqa: F811
    a, b = pair
    channel = "1388888888888888801"
    assert put_account(a.url, channel, 3).status_code == 204
    barrier = threading.Barrier(RACERS)

    def one(index: int) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(timeout=10)
            return submit((a, b)[index % 2].url, face, session, channel=channel)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        assert_exactly_three_admitted(list(pool.map(one, range(RACERS), timeout=WAIT)))


def test_max_jobs_is_exact_in_200_trials_across_two_store_instances(redis_url):  # noqa: F811
    stores = [open_backend(redis_url).store, open_backend(redis_url).store]  # two pools: two instances
    account = Account.create(discord="race-discord-token-00000000001", server="2", channel="3", max_jobs=LIMIT)
    barrier = threading.Barrier(RACERS)

    def admit(trial: int, index: int) -> Job | Rejected:
        tenant = f"trial-{trial}"

        def build(candidate: Candidate, sequence: int) -> Job:
            return Job(tenant=tenant, jobid=f"job-{sequence}", verb="pixverse-meme_face", channel="3",
                       created=T0, progress_at=T0 + 1, ends_at=T0 + 60, outcome="completed", record={})

        barrier.wait(timeout=WAIT)
        return stores[index % 2].admit(tenant, [Candidate(account, LIMIT)], T0, build)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        for trial in range(TRIALS):
            results = list(pool.map(lambda i, t=trial: admit(t, i), range(RACERS), timeout=WAIT))
            admitted = sorted(r.jobid for r in results if isinstance(r, Job))
            rejected = [r for r in results if isinstance(r, Rejected)]
            assert len(admitted) == LIMIT, (trial, admitted)
            assert all(sorted(r.executing_jobs) == admitted for r in rejected), trial


def test_a_redis_restart_answers_503_then_recovers_with_every_job(redis_server, redis_url):  # noqa: F811
    app = create_app(MockConfig(clock="manual", store=redis_url))
    runtime = mock_of(app)
    client = app.test_client()
    try:
        before = meme_face_job(client)
        redis_server.stop()
        down = client.get("/v1/pixverse/jobs/", query_string={"jobid": before}, headers=AUTH)
        assert down.status_code == 503
        assert down.get_json() == {"error": "The mock's Redis store is unreachable; retry shortly", "code": 503}
        redis_server.start()
        runtime.advance(FAST_DONE)
        answer = client.get("/v1/pixverse/jobs/", query_string={"jobid": before}, headers=AUTH)
        assert answer.status_code == 200 and answer.get_json()["status"] == "completed"
        assert meme_face_job(client)
    finally:
        if redis_server.proc is None or redis_server.proc.poll() is not None:
            redis_server.start()
        runtime.close()
    assert not runtime.errors, runtime.errors


def test_a_wrong_redis_url_stops_the_mock_with_one_line():
    import subprocess
    import sys

    from helpers import free_port

    result = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--store",
         f"redis://127.0.0.1:{free_port()}/0"],
        capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot use the Redis store 'redis://127.0.0.1:"), lines


def test_two_mocks_with_their_own_prefixes_share_a_redis_without_meeting(redis_server):  # noqa: F811
    apps = [create_app(MockConfig(clock="manual", store=redis_server.url(prefix))) for prefix in ("one", "two")]
    try:
        first, second = (app.test_client() for app in apps)
        jobid = meme_face_job(first)
        assert first.get("/v1/pixverse/jobs/", query_string={"jobid": jobid}, headers=AUTH).status_code == 200
        assert second.get("/v1/pixverse/jobs/", query_string={"jobid": jobid}, headers=AUTH).status_code == 404
        mock_of(apps[1]).advance(100)
        assert mock_of(apps[0]).now() < mock_of(apps[1]).now()
    finally:
        for app in apps:
            mock_of(app).close()
