"""Load on the public app: 32 concurrent reporters against a KDF-bound ceiling from the same run.

Run: ``.venv/bin/python bench/bench_intake.py`` (about a minute; ``--seconds`` and
``--reporters`` change the load, ``--database-url`` runs against PostgreSQL).

What it does: initialises the demo county in a temporary data directory, serves the public app
with hypercorn on a loopback port in a child process (production receipt KDF, the production
check floor, rate limits raised so one address can drive the load), and drives it from
this process over lean keep-alive connections:
every reporter submits a report and then checks its status, in a loop, for a bounded time.
A prober asks ``GET /healthz`` every 50 ms meanwhile.

Each submission and each status check costs one receipt derivation (Argon2id), so the ceiling is
how many derivations per second the bounded pool (one thread per core) manages alone, measured
here before and after the load; the higher of the two is used. Targets (issue 4, two cores):
≥ 80 % of that ceiling, zero errors, healthz p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# Run from a checkout without installing: the repository root holds the packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crypto import RECEIPT_ARGON2, derive_receipt_keys, generate_receipt
from crypto.argon import Argon2Params

TEXTS = [
    "县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。",
    "青山镇党委书记违规收受辖区企业购物卡，并安排亲属承揽村道硬化工程。",
    "县人民医院设备科采购CT机时指定品牌，供应商给科长送了一辆车。",
    "河口镇民政办工作人员克扣低保户补贴，群众多次反映无人处理。",
]


# --- the server (child process) ----------------------------------------------------------------


def serve(port: int) -> None:
    """Child process: the public app alone, as `xuncha serve` would run it."""
    from hypercorn.asyncio import serve as hypercorn_serve

    from admin.serve import hypercorn_config
    from core.runtime import Runtime
    from core.settings import Bind, Settings
    from intake.app import create_app

    async def main() -> None:
        settings = Settings.from_env()
        runtime = Runtime.open(settings)
        app = create_app(settings, runtime)
        try:
            await hypercorn_serve(app, hypercorn_config(Bind("127.0.0.1", port)))  # type: ignore[arg-type]
        finally:
            await runtime.close()

    asyncio.run(main())


def bench_environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "XUNCHA_DATA_DIR": str(data_dir),
        # One loopback address drives all the load, so the per-client limits are lifted here.
        "XUNCHA_SUBMISSIONS_PER_HOUR": "100000000",
        "XUNCHA_FAILED_CHECKS_PER_HOUR": "100000000",
        "XUNCHA_FAILED_CHECKS_PER_MINUTE": "100000000",
    }
    if database_url:
        env["XUNCHA_DATABASE_URL"] = database_url
    return env


def initialise_demo(env: dict[str, str]) -> None:
    from core.bootstrap import initialise
    from core.settings import Settings

    settings = Settings.from_env(env)
    # Staff passwords are not exercised here; a cheap password KDF keeps set-up short.
    asyncio.run(
        initialise(
            settings, demo=True, password_params=Argon2Params(memory_kib=8, iterations=1, lanes=1)
        )
    )


# --- the ceiling -------------------------------------------------------------------------------


def kdf_ceiling(seconds: float, workers: int) -> float:
    """Receipt derivations per second of a pool bounded to the cores, with nothing else running."""
    salt, pepper = os.urandom(16), os.urandom(32)
    receipt = generate_receipt()

    def one() -> None:
        derive_receipt_keys(receipt, site_salt=salt, pepper=pepper, params=RECEIPT_ARGON2)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda _: one(), range(workers)))  # warm-up
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            list(pool.map(lambda _: one(), range(workers * 4)))
            done += workers * 4
        return done / (time.perf_counter() - started)


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Tally:
    submissions: list[float] = field(default_factory=list)
    checks: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for this load.

    The load generator shares the two cores with the server, so it is kept lean: requests are
    written as bytes and answers read by Content-Length (what wrk does), not through a general
    client library whose own CPU would be charged to the server's ratio.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: object) -> tuple[int, bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        try:
            self.writer.write(head + body)
            status_line, _, headers = (await self.reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return int(status_line.split()[1]), await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def reporter(port: int, tally: Tally, stop_at: float, n: int) -> None:
    connection = Connection(port)
    i = n
    try:
        while time.perf_counter() < stop_at:
            i += 1
            body = {"text": TEXTS[i % len(TEXTS)], "accused": {"unit": "县教育局"}}
            started = time.perf_counter()
            try:
                status, answer = await connection.post_json("/api/v1/reports", body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.error(f"submit {type(exc).__name__}")
                continue
            if status != 201:
                tally.error(f"submit {status}")
                continue
            tally.submissions.append(time.perf_counter() - started)
            if time.perf_counter() >= stop_at:
                break
            started = time.perf_counter()
            try:
                status, _ = await connection.post_json(
                    "/api/v1/receipts/status", {"receipt": json.loads(answer)["receipt"]}
                )
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.error(f"status {type(exc).__name__}")
                continue
            if status != 200:
                tally.error(f"status {status}")
                continue
            tally.checks.append(time.perf_counter() - started)
    finally:
        connection.close()


def probe(port: int, seconds: float) -> None:
    """Child process: GET /healthz every 50 ms on one keep-alive connection; prints JSON.

    It runs apart from the load generator so its timings are the server's, not the time the
    load generator's own busy event loop took to notice a response.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    samples, errors = [], 0
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            errors += response.status != 200
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
        samples.append(time.perf_counter() - started)
        time.sleep(0.05)
    connection.close()
    print(json.dumps({"samples": samples, "errors": errors}))


def wait_until_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        if time.perf_counter() > deadline:
            raise SystemExit("the public app did not start")
        time.sleep(0.1)


async def drive(port: int, env: dict[str, str], reporters: int, seconds: float) -> Tally:
    tally = Tally()
    # Warm-up: first-request costs paid.
    await asyncio.gather(*(reporter(port, Tally(), time.perf_counter() + 2, n) for n in range(4)))
    prober = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--probe",
        str(port),
        "--seconds",
        str(seconds),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(reporter(port, tally, stop_at, n) for n in range(reporters)))
    tally.elapsed = time.perf_counter() - started
    out, _ = await prober.communicate()
    probed = json.loads(out)
    tally.healthz = probed["samples"]
    if probed["errors"]:
        tally.errors["healthz"] = probed["errors"]
    return tally


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds per thread of a process (Linux /proc; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def cpu_split(pid: int, before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
    """(event-loop thread, all other threads) CPU seconds spent between two samples."""
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    loop = spent.pop(pid, 0.0)
    return loop, sum(spent.values())


def quantile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q * 100) - 1]


def report_cpu(
    loop: float, others: float, client: float, requests: int, ceiling: float, cores: int
) -> None:
    """Where the CPU went, and what that implies without other load on the machine."""
    if not requests or not others:
        return
    loop_ms, other_ms = loop / requests * 1e3, others / requests * 1e3
    kdf_ms = cores / ceiling * 1e3
    print(
        f"  server CPU      event loop {loop_ms:.1f} ms/request, other threads (KDF pool,"
        f" SQLite) {other_ms:.1f} ms/request; one derivation alone {kdf_ms:.1f} ms"
    )
    print(f"  load generator  {client / requests * 1e3:.1f} ms/request (same two cores)")
    # With the cores to itself the server manages cores / (its CPU per request) requests a
    # second; against the ceiling (cores / kdf) that is kdf / (loop + other threads).
    print(
        f"  projected ratio with the cores to the server alone: {kdf_ms / (loop_ms + other_ms):.0%}"
    )


def report(tally: Tally, ceiling: float, reporters: int) -> bool:
    elapsed = tally.elapsed
    subs = len(tally.submissions) / elapsed
    checks = len(tally.checks) / elapsed
    ratio = (subs + checks) / ceiling
    print(f"load: {reporters} concurrent reporters for {elapsed:.1f} s")
    for name, samples, rate in [
        ("submissions", tally.submissions, subs),
        ("status checks", tally.checks, checks),
    ]:
        print(
            f"  {name:<14} {rate:7.1f}/s   p50 {quantile(samples, 0.5) * 1e3:7.0f} ms"
            f"   p99 {quantile(samples, 0.99) * 1e3:7.0f} ms   n={len(samples)}"
        )
    print(f"  KDF-bound work  {subs + checks:7.1f}/s   ceiling {ceiling:.1f}/s   ratio {ratio:.0%}")
    health_p99 = quantile(tally.healthz, 0.99)
    print(
        f"  GET /healthz    p50 {quantile(tally.healthz, 0.5) * 1e3:.1f} ms"
        f"   p99 {health_p99 * 1e3:.1f} ms   max {max(tally.healthz, default=0) * 1e3:.1f} ms"
        f"   n={len(tally.healthz)}"
    )
    errors = sum(tally.errors.values())
    print(f"  errors          {errors} {tally.errors if errors else ''}")
    verdicts = [
        ("ratio >= 80% of the KDF ceiling", ratio >= 0.8),
        ("zero errors", errors == 0),
        ("healthz p99 < 100 ms", health_p99 < 0.1),
    ]
    for label, ok in verdicts:
        print(f"  {'PASS' if ok else 'MISS'}  {label}")
    return all(ok for _, ok in verdicts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--reporters", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.probe:
        probe(args.probe, args.seconds)
        return 0
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="xuncha-bench-") as tmp:
        env = bench_environment(Path(tmp), args.database_url)
        initialise_demo(env)
        print(f"cores: {workers}; receipt KDF: {RECEIPT_ARGON2}")
        before = kdf_ceiling(5.0, workers)
        print(f"KDF ceiling before the load: {before:.1f} derivations/s")
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 — our own interpreter and this file
            [sys.executable, __file__, "--serve", str(port)], env=env
        )
        try:
            wait_until_up(port)
            cpu_before, client_before = thread_cpu(server.pid), time.process_time()
            tally = asyncio.run(drive(port, env, args.reporters, args.seconds))
            loop_cpu, other_cpu = cpu_split(server.pid, cpu_before, thread_cpu(server.pid))
            client_cpu = time.process_time() - client_before
        finally:
            server.terminate()
            server.wait(timeout=30)
        after = kdf_ceiling(5.0, workers)
        print(f"KDF ceiling after the load:  {after:.1f} derivations/s")
        passed = report(tally, max(before, after), args.reporters)
        requests = len(tally.submissions) + len(tally.checks)
        report_cpu(loop_cpu, other_cpu, client_cpu, requests, max(before, after), workers)
        return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
