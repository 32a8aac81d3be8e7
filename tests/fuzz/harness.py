"""The fuzz campaign: mutated inputs through the code path of ``marketd process`` (the real
InboxEngine: copy into the inbox, claim, handler, commit, publish, archive), on a real store.

For every input the outcome must be one a person can act on:

- the file ends ``done`` (or ``duplicate``), or is rejected (``error``) with a reason and a
  message, and with a location (``where``) unless the reason is about the file as a whole;
- never ``plugin_error`` (a handler exception is a bug, not the user's error message), never an
  exception out of the engine, never another state (a bad file is no temporary failure);
- never more than :data:`TIME_LIMIT` seconds.

An input is reproduced from (seed, format, index) alone; each failure is also written to the
findings folder (the input and a JSON note) to become a regression test.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import corpus, mutate

TIME_LIMIT = 10.0   # seconds per input (issue 9: "nothing over 10 s")
HARD_LIMIT = 120    # an input still running then is interrupted and counted as a hang

# Reasons about the file as a whole, where no line or byte can be named: empty, too big, of another
# type (gzip, PDF, ZIP), nothing but a header, or a workbook that cannot be opened at all ("xlsx";
# damage found inside a sheet names the sheet and row).
WHOLE_FILE = {"empty_file", "too_large", "compressed", "not_a_settlement", "no_rows", "no_lines", "xlsx"}


@dataclass
class Format:
    name: str
    kind: str          # the inbox
    suffix: str
    make: Callable     # (rnd, uid) -> one input's bytes, mutated

    def input(self, seed: int, index: int) -> tuple[bytes, list[str]]:
        rnd = random.Random(f"{seed}:{self.name}:{index}")
        return self.make(rnd, seed * 1_000_000 + index)


def _bytes_format(seed_fn, mutator=mutate.mutate_bytes, keep=0.03):
    def make(rnd, uid):
        data = seed_fn(rnd, uid)
        if rnd.random() < keep:  # a few unmutated seeds: the well-formed path stays covered
            return data, []
        return mutator(rnd, data)
    return make


def _xlsx(rnd, uid):
    rows = corpus.catalog_table(rnd, uid)
    if rnd.random() < 0.03:
        return corpus.xlsx_bytes(rows), []
    rows, names = mutate.mutate_table(rnd, rows)
    data = corpus.xlsx_bytes(rows)
    if rnd.random() < 0.25:  # the workbook's bytes too: a damaged ZIP/XML
        data, more = mutate.mutate_bytes(rnd, data, [mutate.flip_bytes, mutate.truncate, mutate.insert_bytes])
        names += more
    return data, names


FORMATS = {f.name: f for f in [
    Format("catalog_csv", "catalog", ".csv", _bytes_format(corpus.catalog_csv_seed)),
    Format("catalog_xlsx", "catalog", ".xlsx", _xlsx),
    Format("settlement_v2", "settlements", ".txt", _bytes_format(corpus.settlement_v2_seed)),
    Format("settlement_v1", "settlements", ".txt", _bytes_format(corpus.settlement_v1_seed)),
    Format("shipments_csv", "shipments", ".csv", _bytes_format(corpus.shipments_csv_seed)),
    Format("shipments_json", "shipments", ".json", _bytes_format(corpus.shipments_json_seed, mutate.mutate_json)),
    Format("tracking_csv", "tracking", ".csv", _bytes_format(corpus.tracking_csv_seed)),
]}


def make_app(root: Path):
    """An instance with the plugins the formats need and carriers that never leave the machine
    (every carrier name of the examples is a manual carrier here)."""
    from marketd.plugins import amazon, catalog, manual, settlements, shipments
    from marketd.sdk.testing import make_app as sdk_make_app

    app = sdk_make_app(
        root, {"catalog": catalog, "amazon": amazon, "settlements": settlements, "shipments": shipments,
               "manual": manual},
        channels={"amazon-de": {"type": "amazon", "marketplace": "DE"},
                  "amazon-it": {"type": "amazon", "marketplace": "IT"}},
        carriers={name: {"type": "manual"} for name in ("erp", "brt", "mall")},
        inbox={"shipments": {"require_known_order": False}})
    now = app.clock.now().isoformat()
    for channel, order in corpus.ORDERS:
        app.store.upsert_order({
            "channel": channel, "channel_type": "amazon" if channel.startswith("amazon") else "mall",
            "order_id": order, "status": "UNSHIPPED", "purchased_at": now, "updated_at": now, "currency": "EUR",
            "total": "49.90", "buyer_name": "Anna Bianchi",
            "ship_to": {"name": "Anna Bianchi", "street": "Via Verdi 3", "zip": "20121", "city": "Milano",
                        "country": "IT"},
            "items": [{"sku": "SKU-A", "quantity": 1}]})
    return app


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang(f"still running after {HARD_LIMIT}s")


@dataclass
class Result:
    format: str
    inputs: int = 0
    states: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    crashes: list = field(default_factory=list)
    hangs: list = field(default_factory=list)
    unclear: list = field(default_factory=list)   # rejected without a reason/message/location
    seconds: float = 0.0
    slowest: float = 0.0

    @property
    def failures(self) -> list:
        return self.crashes + self.hangs + self.unclear

    def line(self) -> str:
        return (f"{self.format:15s} inputs {self.inputs:6d}  done {self.states['done']:6d}  "
                f"rejected {self.states['error']:6d}  duplicate {self.states['duplicate']:4d}  "
                f"crashes {len(self.crashes):3d}  hangs {len(self.hangs):3d}  unclear {len(self.unclear):3d}  "
                f"slowest {self.slowest:5.2f}s  total {self.seconds:7.1f}s")


def judge(row: dict) -> str | None:
    """What is wrong with a journal row as an outcome, or None."""
    state = row.get("state")
    if state in ("done", "duplicate"):
        return None
    if state != "error":
        return f"state {state!r}: a bad file must end done or rejected, not wait or retry"
    err = row.get("error") or {}
    reason = err.get("reason") or ""
    if reason.startswith("plugin_error"):
        return "crash"
    if not reason or not (err.get("message") or "").strip():
        return f"rejected without a reason or message: {err}"
    if "Traceback" in err.get("message", ""):
        return "a traceback in the user's message"
    if not err.get("where") and reason not in WHOLE_FILE:
        return f"reason {reason!r} names no location (where)"
    return None


def run_format(fmt: Format, budget: int, seed: int, findings: Path | None, app=None, log=None) -> Result:
    """Run ``budget`` distinct inputs of ``fmt``; ``app`` is made (and closed) when not given."""
    from marketd.sdk import process_file

    own = app is None
    work = Path(tempfile.mkdtemp(prefix=f"marketd-fuzz-{fmt.name}-", dir=_fast_tmp()))
    app = app or make_app(work / "instance")
    res = Result(fmt.name)
    seen: set[str] = set()
    index = 0
    src_dir = work / "src"
    src_dir.mkdir()
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        while res.inputs < budget:
            data, names = fmt.input(seed, index)
            index += 1
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:  # the same bytes again would only be a duplicate: draw another
                if index > budget * 20:
                    break
                continue
            seen.add(digest)
            res.inputs += 1
            src = src_dir / f"{fmt.name}-{index - 1}{fmt.suffix}"
            src.write_bytes(data)
            failure, row = None, None
            t0 = time.perf_counter()
            signal.alarm(HARD_LIMIT)
            try:
                row = process_file(app, fmt.kind, src)
            except _Hang as exc:
                failure = ("hang", str(exc))
            except Exception as exc:  # noqa: BLE001 - anything out of the engine is a crash
                failure = ("crash", "".join(traceback.format_exception(exc))[-3000:])
            finally:
                signal.alarm(0)
            took = time.perf_counter() - t0
            res.seconds += took
            res.slowest = max(res.slowest, took)
            src.unlink(missing_ok=True)
            if row is not None:
                res.states[row["state"]] += 1
                if row["state"] == "error":
                    res.reasons[(row.get("error") or {}).get("reason")] += 1
                verdict = judge(row)
                if verdict == "crash":
                    failure = ("crash", _plugin_traceback(app, row))
                elif verdict:
                    failure = ("unclear", verdict)
            if failure is None and took > TIME_LIMIT:
                failure = ("hang", f"took {took:.1f}s (limit {TIME_LIMIT}s)")
            if failure is not None:
                kind, detail = failure
                note = {"format": fmt.name, "seed": seed, "index": index - 1, "mutations": names, "kind": kind,
                        "detail": detail, "seconds": round(took, 2), "sha256": digest,
                        "error": (row or {}).get("error"), "size": len(data)}
                {"crash": res.crashes, "hang": res.hangs, "unclear": res.unclear}[kind].append(note)
                if findings is not None:
                    _save(findings, fmt, note, data)
                if log:
                    log(f"  {fmt.name} #{index - 1} {kind}: {str(detail).strip().splitlines()[-1][:200]}")
                if kind == "hang":  # the engine was interrupted mid-file: start from a clean instance
                    if own:
                        app.close()
                        app = make_app(work / f"instance-{index}")
    finally:
        signal.signal(signal.SIGALRM, old)
        if own:
            app.close()
            shutil.rmtree(work, ignore_errors=True)
    return res


def _plugin_traceback(app, row) -> str:
    """The traceback the engine logged for a plugin_error (the report itself never carries one)."""
    return f"plugin_error on {row.get('name')}: {(row.get('error') or {}).get('message')}"


def _save(findings: Path, fmt: Format, note: dict, data: bytes) -> None:
    folder = findings / fmt.name
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{note['kind']}-{note['seed']}-{note['index']}"
    (folder / f"{stem}{fmt.suffix}").write_bytes(data)
    (folder / f"{stem}.json").write_text(json.dumps(note, indent=2, default=str))


def _fast_tmp() -> str | None:
    """/dev/shm when there is one: the engine fsyncs every step, which is the cost on a disk."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def campaign(budget: int, seed: int, formats: list[str] | None = None, findings: Path | None = None,
             log=print) -> list[Result]:
    results = []
    for name in formats or list(FORMATS):
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        log(f"{name}: {budget} inputs, seed {seed} (started {started})")
        res = run_format(FORMATS[name], budget, seed, findings, log=log)
        log(res.line())
        results.append(res)
    return results
