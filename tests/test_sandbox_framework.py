"""The sandbox framework over real HTTP on loopback, with a toy (non-vendor) sandbox."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from hdmigrate.errors import ConfigError, FatalApiError, RecordRejected
from hdmigrate.http import HttpClient
from hdmigrate.testing.sandbox import (BucketUsage, HttpAbort, Request, Response, SandboxServer, Store,
                               find_free_port, parse_faults, route)

TOKEN = "toy-token-123"


class FakeClock:
    """Shared by the sandbox (its rate windows) and the client (its sleeps advance it)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


class ToySandbox(SandboxServer):
    """A tiny items API: bearer auth, link-header pages, uploads, a search endpoint with its own
    tighter limit, asynchronous jobs that may fail, and vendor-style rate headers."""

    platform = "toy"
    env = {"TOY_TOKEN": TOKEN}

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for n in range(1, 6):
            self.store.insert("item", {"title": f"item {n}"})

    @property
    def plan_section(self) -> dict:
        return {**super().plan_section, "token_env": "TOY_TOKEN"}

    def authenticate(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    def endpoint_limits(self, account_per_minute: float) -> dict[str, float]:
        return {"search": max(1, account_per_minute / 10)}

    def rate_limit_headers(self, request: Request, usage: list[BucketUsage]) -> dict[str, str]:
        return {"X-Rate-Limit": str(usage[0].limit), "X-Rate-Limit-Remaining": str(usage[0].remaining)}

    @route("GET", r"/items", name="list_items")
    def list_items(self, request: Request):
        page, size = int(request.arg("page", "1")), int(request.arg("per_page", "2"))
        items = sorted(self.store.all("item"), key=lambda i: i["id"])
        chunk = items[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(items):
            headers["Link"] = f'<{self.url}/items?page={page + 1}&per_page={size}>; rel="next"'
        return Response(200, json=chunk, headers=headers)

    @route("GET", r"/items/(?P<id>\d+)", name="show_item")
    def show_item(self, request: Request):
        item = self.store.get("item", request.params["id"])
        if item is None:
            raise HttpAbort(404, {"error": "RecordNotFound"})
        return {"item": item}

    @route("POST", r"/items", name="create_item")
    def create_item(self, request: Request):
        body = request.json or {}
        if not body.get("title"):
            return 422, {"errors": [{"field": "title", "message": "is required", "code": "missing_field"}]}
        return 201, {"item": self.store.insert("item", {"title": body["title"]})}

    @route("POST", r"/uploads", name="upload")
    def upload(self, request: Request):
        return {"fields": request.form,
                "files": [{"name": p.name, "filename": p.filename, "type": p.content_type,
                           "size": len(p.data), "text": p.text} for p in request.files]}

    @route("GET", r"/echo", name="echo", auth=False)
    def echo(self, request: Request):
        return {"query": request.query, "agent": request.headers.get("user-agent")}

    @route("GET", r"/search", name="search", bucket="search")
    def search(self, request: Request):
        return {"results": self.store.find("item", title=request.arg("q"))}

    @route("POST", r"/jobs", name="job")
    def job(self, request: Request):
        return {"status": "failed" if self.faults.hit("job_fail") else "completed"}

    @route("GET", r"/boom", name="boom")
    def boom(self, request: Request):
        raise RuntimeError("handler bug")


@pytest.fixture
def toy():
    with ToySandbox() as sandbox:
        yield sandbox


def raw(sandbox: SandboxServer, **kw) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}, **kw)


def client_for(sandbox: SandboxServer, clock: FakeClock | None = None, **kw) -> HttpClient:
    clock = clock or FakeClock()
    return HttpClient(sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}, secrets=[TOKEN],
                      clock=clock, sleep=clock.sleep, **kw)


# ---------------------------------------------------------------- server basics

def test_binds_loopback_on_a_free_port_and_stops():
    port = find_free_port()
    sandbox = ToySandbox(port=port).start()
    try:
        assert sandbox.url == f"http://127.0.0.1:{port}"
        assert sandbox._server.server_address[0] == "127.0.0.1"
        assert sandbox.plan_section == {"adapter": "toy", "url": sandbox.url, "token_env": "TOY_TOKEN"}
        assert httpx.get(f"{sandbox.url}/echo").status_code == 200
    finally:
        sandbox.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/echo")


def test_port_zero_picks_distinct_ports():
    with ToySandbox() as a, ToySandbox() as b:
        assert a.port != b.port and a.port > 0


# ---------------------------------------------------------------- routing and requests

def test_routing_params_status_and_errors(toy):
    with raw(toy) as http:
        assert http.get("/items/3").json() == {"item": {"id": 3, "title": "item 3"}}
        assert http.get("/items/99").status_code == 404
        assert http.get("/items/99").json() == {"error": "RecordNotFound"}
        assert http.get("/nowhere").status_code == 404
        assert http.delete("/items/3").status_code == 405
        created = http.post("/items", json={"title": "new"})
        assert created.status_code == 201 and created.json()["item"]["id"] == 6
        assert http.post("/items", json={}).status_code == 422
        bad = http.post("/items", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and bad.json() == {"error": "invalid JSON body"}
        crash = http.get("/boom")
        assert crash.status_code == 500
    assert len(toy.stats.handler_errors) == 1 and "handler bug" in toy.stats.handler_errors[0]


def test_query_params_are_multi_valued(toy):
    body = httpx.get(f"{toy.url}/echo?tag=a&tag=b&q=x%20y&empty=", headers={"User-Agent": "probe"}).json()
    assert body == {"query": {"tag": ["a", "b"], "q": ["x y"], "empty": [""]}, "agent": "probe"}


def test_multipart_and_urlencoded_forms(toy):
    payload = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    with raw(toy) as http:
        body = http.post("/uploads", data={"note": "héllo", "tag": ["x", "y"]},
                         files={"file": ("pic.bin", payload, "application/octet-stream")}).json()
        assert body["fields"] == {"note": ["héllo"], "tag": ["x", "y"]}
        assert body["files"][0] | {"text": None} == {"name": "file", "filename": "pic.bin",
                                                     "type": "application/octet-stream",
                                                     "size": len(payload), "text": None}
        form = http.post("/uploads", data={"a": "1", "b": "two words"}).json()
        assert form == {"fields": {"a": ["1"], "b": ["two words"]}, "files": []}


def test_multipart_bytes_round_trip_exactly():
    captured = {}
    with ToySandbox() as sandbox:
        def grab(request: Request):
            captured["data"] = request.files[0].data
            return None
        sandbox.add_route("POST", r"/grab", grab, auth=False)
        data = b"\x00\r\n\r\n--x\r\n" * 1000
        assert httpx.post(f"{sandbox.url}/grab", files={"f": ("a", data)}).status_code == 204
    assert captured["data"] == data


def test_crashing_hooks_and_unencodable_bodies_answer_500():
    class Broken(ToySandbox):
        def authenticate(self, request):
            if request.path == "/items/1":
                raise KeyError("hook bug")
            return True

        @route("GET", r"/unencodable", name="unencodable")
        def unencodable(self, request):
            return {"when": object()}

    with Broken() as sandbox, raw(sandbox) as http:
        assert http.get("/items/1").status_code == 500
        assert http.get("/unencodable").status_code == 500
        assert http.get("/items/2").status_code == 200      # the server lives on
    assert len(sandbox.stats.handler_errors) == 2
    assert "hook bug" in sandbox.stats.handler_errors[0]


def test_vendor_fault_names_extend_the_known_ones():
    class Vendor(ToySandbox):
        fault_names = ToySandbox.fault_names + ("ticket_lock",)

    with pytest.raises(ConfigError, match="unknown fault 'ticket_lock'"):
        ToySandbox(faults="ticket_lock=0.1")
    sandbox = Vendor(faults="ticket_lock=1", seed=1)
    assert sandbox.faults.hit("ticket_lock") and sandbox.faults.injected["ticket_lock"] == 1


def test_auth_hook_answers_401(toy):
    assert httpx.get(f"{toy.url}/items/1").status_code == 401
    assert httpx.get(f"{toy.url}/items/1", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{toy.url}/echo").status_code == 200          # auth=False route
    bad = HttpClient(toy.url, headers={"Authorization": "Bearer wrong"})
    with pytest.raises(FatalApiError, match="bad credentials"):
        bad.get_json("/items/1")
    assert toy.stats.unauthorized == 3


def test_http_client_against_the_sandbox(toy):
    client = client_for(toy)
    pages = [r.json() for r in client.paginate_link_header("/items", {"per_page": 2})]
    assert [[i["id"] for i in page] for page in pages] == [[1, 2], [3, 4], [5]]
    with pytest.raises(RecordRejected) as info:
        client.request("POST", "/items", json={"title": ""})
    assert '"field":"title"' in info.value.excerpt
    assert toy.stats.count("GET", "list_items") == 3
    assert toy.stats.count("POST", "create_item") == 1


# ---------------------------------------------------------------- rate limiting

def test_account_limit_answers_429_with_retry_after_and_vendor_headers():
    clock = FakeClock()
    with ToySandbox(rate_limit=3, clock=clock) as sandbox, raw(sandbox) as http:
        remaining = [http.get("/items/1").headers["X-Rate-Limit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        refused = http.get("/items/1")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "60"
        assert "retry in 60 seconds" in refused.text
        clock.now += 60                                   # the next window
        assert http.get("/items/1").status_code == 200
        assert sandbox.stats.throttled == 1
        assert sandbox.stats.count("GET", "show_item") == 5


def test_endpoint_bucket_is_tighter_than_the_account():
    clock = FakeClock()
    with ToySandbox(rate_limit=20, clock=clock) as sandbox, raw(sandbox) as http:
        assert http.get("/search", params={"q": "item 1"}).json() == {"results": [{"id": 1, "title": "item 1"}]}
        assert http.get("/search", params={"q": "item 1"}).json() == {"results": [{"id": 1, "title": "item 1"}]}
        refused = http.get("/search")
        assert refused.status_code == 429 and "(search)" in refused.text
        assert http.get("/items/1").status_code == 200   # the account still has room
        # Refused requests do not use the account's credits: 3 of 20 taken.
        assert http.get("/items/1").headers["X-Rate-Limit-Remaining"] == "16"


def test_http_client_waits_out_the_sandbox_limit():
    clock = FakeClock()
    with ToySandbox(rate_limit=2, clock=clock) as sandbox:
        client = client_for(sandbox, clock)
        ids = [client.get_json(f"/items/{n}")["item"]["id"] for n in (1, 2, 3, 4, 5)]
    assert ids == [1, 2, 3, 4, 5]
    # Every request eventually went through; the client paced itself or waited out 429s.
    assert sandbox.stats.count("GET", "show_item") == 5 + sandbox.stats.throttled
    assert client.stats.by_status[200] == 5
    assert sum(clock.slept) >= 120                    # three windows of 60 s for 5 requests at 2/min


# ---------------------------------------------------------------- faults

def statuses(sandbox: SandboxServer, n: int) -> list[int]:
    with raw(sandbox) as http:
        return [http.get(f"/items/{1 + i % 5}").status_code for i in range(n)]


def test_seeded_faults_are_repeatable():
    spec = "5xx=0.3,429=0.2:3s"
    with ToySandbox(faults=spec, seed=7) as a:
        first = statuses(a, 40)
    with ToySandbox(faults=spec, seed=7) as b:
        second = statuses(b, 40)
    assert first == second
    assert {200, 503, 429} <= set(first)
    assert a.faults.injected == b.faults.injected
    assert a.faults.injected["5xx"] == first.count(503) and a.stats.throttled == first.count(429)


def test_fault_details_status_retry_after_and_slow():
    clock = FakeClock()
    with ToySandbox(faults="5xx=1:502", seed=1) as sandbox:
        assert statuses(sandbox, 2) == [502, 502]
    with ToySandbox(faults="429=1:5s", seed=1) as sandbox, raw(sandbox) as http:
        assert http.get("/items/1").headers["Retry-After"] == "5"
    with ToySandbox(faults="slow=1:250ms", seed=1, sleep=clock.sleep) as sandbox:
        assert statuses(sandbox, 3) == [200, 200, 200]
    assert clock.slept == [0.25, 0.25, 0.25]


def test_job_fail_is_exposed_to_handlers():
    with ToySandbox(faults="job_fail=1", seed=3) as sandbox, raw(sandbox) as http:
        assert http.post("/jobs").json() == {"status": "failed"}
    with ToySandbox() as sandbox, raw(sandbox) as http:
        assert http.post("/jobs").json() == {"status": "completed"}


def test_drop_closes_the_connection_and_http_client_retries():
    with ToySandbox(faults="drop=0.4", seed=11) as sandbox:
        with raw(sandbox) as http:
            seen = []
            for _ in range(12):
                try:
                    seen.append(http.get("/items/1").status_code)
                except httpx.RemoteProtocolError:
                    seen.append("dropped")
        assert "dropped" in seen and 200 in seen
        client = client_for(sandbox, max_attempts=10)
        assert [client.get_json(f"/items/{n}")["item"]["id"] for n in range(1, 6) for _ in range(3)] == \
            [n for n in range(1, 6) for _ in range(3)]
        assert client.stats.transport_errors > 0
        assert sandbox.faults.injected["drop"] == seen.count("dropped") + client.stats.transport_errors
        assert sandbox.stats.by_status[0] == sandbox.faults.injected["drop"]   # logged as dropped
        assert sandbox.summary()["faults"]["drop"] == sandbox.faults.injected["drop"]


@pytest.mark.parametrize("spec, message", [
    ("5xx", "not name=probability"),
    ("boom=0.1", "unknown fault 'boom'"),
    ("5xx=abc", "probability 'abc' is not a number"),
    ("429=1.5", "not between 0 and 1"),
    ("slow=0.1:soon", "duration 'soon'"),
    ("5xx=0.1:404", "not a 5xx status"),
    ("drop=0.1,drop=0.2", "drop given twice"),
])
def test_invalid_fault_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_faults(spec)


def test_fault_spec_parsing():
    faults = parse_faults(" 5xx=0.1 , slow=0.05:2s, job_fail=0.1 ", seed=4)
    assert faults.probability("5xx") == 0.1 and faults.duration("slow", 0) == 2.0
    assert faults.probability("drop") == 0 and not faults.hit("drop")
    assert not parse_faults("") and not parse_faults(None)


# ---------------------------------------------------------------- stats and store

def test_stats_count_by_method_and_route(toy):
    with raw(toy) as http:
        http.get("/items/1")
        http.get("/items/2")
        http.post("/items", json={"title": "t"})
        http.get("/missing")
    assert toy.stats.requests[("GET", "show_item")] == 2
    assert toy.stats.count(route="create_item") == 1
    assert toy.stats.requests[("GET", "?")] == 1
    assert toy.stats.total == 4
    assert [e.status for e in toy.stats.log] == [200, 200, 201, 404]


def test_store_is_thread_safe_and_hands_out_copies():
    store = Store()
    store.insert("user", {"id": 40, "name": "seeded"})
    threads = [threading.Thread(target=lambda: [store.insert("user", {"name": "x"}) for _ in range(50)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [u["id"] for u in store.all("user")]
    assert len(ids) == len(set(ids)) == 201 and min(i for i in ids if i != 40) == 41
    copy = store.get("user", 40)
    copy["name"] = "changed"
    assert store.get("user", 40)["name"] == "seeded"
    assert store.update("user", 40, {"role": "agent"})["role"] == "agent"
    assert store.find("user", role="agent")[0]["id"] == 40
    assert store.delete("user", 40) and store.get("user", 40) is None


def test_free_port_is_bindable():
    port = find_free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
