"""Per-operation costs of crypto/, each against a baseline measured in the same run.

Run: ``.venv/bin/python bench/bench_crypto.py`` (about 15-30 s on two cores).
``--quick`` cuts repetitions for a smoke test.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Baselines are raw primitives, so this one file outside crypto/ reaches past the fence.
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: TID251
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: TID251

# Run from a checkout without installing: the repository root holds the crypto package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import crypto
from crypto import (
    PASSWORD_ARGON2,
    RECEIPT_ARGON2,
    CaseField,
    CaseKey,
    KeyPair,
)

MIB = 1024 * 1024


def per_call(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call over ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(name: str, seconds: float, baseline: float | None = None, unit: str = "") -> None:
    ratio = f"{seconds / baseline:8.2f}x" if baseline else " " * 9
    if unit == "MiB":
        print(f"  {name:<46} {seconds * 1e3:9.2f} ms/MiB {1 / seconds:8.0f} MiB/s {ratio}")
    else:
        print(f"  {name:<46} {seconds * 1e6:12.1f} µs {ratio}")


def bench_fields(repeat: int) -> None:
    print("Case envelopes (baseline: one AES-256-GCM call on the same 4 KiB)")
    key = CaseKey.generate()
    text = os.urandom(4000)
    raw = AESGCM(key.secret)
    nonce = os.urandom(12)
    baseline = per_call(lambda: raw.encrypt(nonce, text, b"aad"), repeat * 10)
    row("AES-256-GCM 4 KiB (baseline)", baseline, baseline)
    sealed = crypto.seal_field(key, "case", CaseField.TEXT, text)
    row(
        "seal_field 4 KiB (padded to 4 KiB)",
        per_call(lambda: crypto.seal_field(key, "case", CaseField.TEXT, text), repeat * 10),
        baseline,
    )
    row(
        "open_field 4 KiB",
        per_call(lambda: crypto.open_field(key, "case", CaseField.TEXT, sealed), repeat * 10),
        baseline,
    )


def bench_hpke(repeat: int) -> None:
    print("HPKE ML-KEM-768+X25519 (baseline: wrapping under the reporter key, AES-GCM)")
    key = CaseKey.generate()
    reporter_key = os.urandom(32)
    baseline = per_call(lambda: crypto.wrap_case_key_for_reporter(key, "c", reporter_key), repeat)
    row("wrap for reporter (baseline)", baseline, baseline)
    bodies = [KeyPair.generate() for _ in range(5)]
    wrapped = crypto.wrap_case_key(key, "c", bodies[0].public)
    wrap = per_call(lambda: crypto.wrap_case_key(key, "c", bodies[0].public), repeat)
    row("wrap_case_key (per recipient body)", wrap, baseline)
    row(
        "unwrap_case_key",
        per_call(lambda: crypto.unwrap_case_key(wrapped, "c", bodies[0]), repeat),
        baseline,
    )
    row("KeyPair.generate", per_call(KeyPair.generate, repeat), baseline)

    def seal_case(recipients: list[KeyPair]) -> None:
        case_key = CaseKey.generate()
        for field in (CaseField.TEXT, CaseField.ACCUSED, CaseField.CONTACT):
            crypto.seal_field(case_key, "c", field, b"x" * 2000)
        for body in recipients:
            crypto.wrap_case_key(case_key, "c", body.public)
        crypto.wrap_case_key_for_reporter(case_key, "c", reporter_key)

    for count in (1, 3, 5):
        cost = per_call(functools.partial(seal_case, bodies[:count]), repeat)
        row(f"seal a case: 3 fields, {count} bodies + reporter", cost, baseline)


def bench_stream(total_mib: int) -> None:
    print(f"Streaming attachments, {total_mib} MiB in 1 MiB chunks (baseline: raw AES-256-GCM)")
    key = CaseKey.generate()
    chunk = os.urandom(MIB)
    raw = AESGCM(key.secret)
    segment = chunk[: crypto.SEGMENT_SIZE]

    def raw_pass() -> None:
        nonce = os.urandom(12)
        for _ in range(total_mib * MIB // len(segment)):
            raw.encrypt(nonce, segment, b"")

    baseline = per_call(raw_pass, 3) / total_mib
    row("AES-256-GCM in 64 KiB calls (baseline)", baseline, baseline, "MiB")
    sealed: list[bytes] = []

    def seal_pass() -> None:
        sealed.clear()
        sealer = crypto.StreamSealer(key, "c", "attachment/1")
        for _ in range(total_mib):
            sealed.extend(sealer.update(chunk))
        sealed.extend(sealer.finalize())

    row("StreamSealer", per_call(seal_pass, 3) / total_mib, baseline, "MiB")
    blob = b"".join(sealed)
    pieces = [blob[i : i + MIB] for i in range(0, len(blob), MIB)]

    def open_pass() -> None:
        opener = crypto.StreamOpener(key, "c", "attachment/1")
        for piece in pieces:
            opener.update(piece)
        opener.finalize()

    row("StreamOpener", per_call(open_pass, 3) / total_mib, baseline, "MiB")


def gil_probe(work: Callable[[], object], calls: int) -> float:
    """Loop iterations per second the main thread manages while ``work`` runs ``calls`` times in
    another thread. A C call that holds the GIL stalls the main thread for its whole duration."""
    done = threading.Event()

    def background() -> None:
        for _ in range(calls):
            work()
        done.set()

    worker = threading.Thread(target=background)
    count, start = 0, time.perf_counter()
    worker.start()
    while not done.is_set():
        count += 1
    worker.join()
    return count / (time.perf_counter() - start)


def bench_kdf(repeat: int) -> None:
    p = RECEIPT_ARGON2
    print(
        f"Receipts, Argon2id m={p.memory_kib // 1024} MiB t={p.iterations} p={p.lanes} "
        "(baseline: one bare Argon2id call)"
    )
    salt, pepper = os.urandom(32), os.urandom(32)
    receipt = crypto.generate_receipt()

    def bare() -> bytes:
        kdf = Argon2id(
            salt=salt, length=32, iterations=p.iterations, lanes=p.lanes, memory_cost=p.memory_kib
        )
        return kdf.derive(receipt.encode())

    baseline = per_call(bare, repeat)
    row("Argon2id alone (baseline)", baseline, baseline)

    def derive() -> None:
        crypto.derive_receipt_keys(receipt, site_salt=salt, pepper=pepper)

    row("derive_receipt_keys", per_call(derive, repeat), baseline)
    calls = 4 * repeat
    start = time.perf_counter()
    for _ in range(calls):
        derive()
    serial = time.perf_counter() - start
    with ThreadPoolExecutor(max_workers=2) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: derive(), range(calls)))
        threaded = time.perf_counter() - start
    print(
        f"  {calls} derivations: 1 thread {calls / serial:.1f}/s, 2 threads "
        f"{calls / threaded:.1f}/s ({serial / threaded:.2f}x; up to 2x with an idle second core)"
    )

    # Control: the builtin sum() runs its C loop without ever releasing the GIL.
    beside_kdf = gil_probe(derive, 10)
    beside_c_loop = gil_probe(lambda: sum(range(5_000_000)), 10)
    print(
        f"  GIL: the main thread ran {beside_kdf / 1e6:.2f} M loop iterations/s beside a thread "
        f"deriving receipts, {beside_c_loop / 1e6:.2f} M/s beside a GIL-holding C loop "
        f"({beside_kdf / beside_c_loop:.0f}x)"
    )
    q = PASSWORD_ARGON2
    print(f"Staff passwords, Argon2id m={q.memory_kib // 1024} MiB t={q.iterations} p={q.lanes}")
    phc = crypto.hash_password("correct horse")
    row(
        "verify_password",
        per_call(lambda: crypto.verify_password("correct horse", phc), max(3, repeat // 2)),
        baseline,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 5 if args.quick else 30
    print(f"crypto/ micro-benchmarks, {os.cpu_count()} CPUs; median of {repeat}+ runs\n")
    started = time.perf_counter()
    bench_fields(repeat)
    bench_hpke(repeat)
    bench_stream(8 if args.quick else 64)
    bench_kdf(5 if args.quick else 20)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
