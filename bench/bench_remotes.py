"""Issue 17 figures: SFTP pull and push through the remotes plugin against OpenSSH's own ``sftp``
client doing the same transfer, in the same run, to the same loopback ``sshd``.

Run: python bench/bench_remotes.py [--files 2000] [--size 2048] [--large-mb 50] [--labels 2000]
                                   [--label-kb 30] [--repeat 3] [--full]
(``--full``: the 500 MB large file of the issue; the default 50 MB keeps it quick.)

What is timed (median of ``--repeat``; each repetition starts from a fresh remote folder):

- **pull, small files**: marketd's pull of N files into an inbox (listing, a stat after each
  download, sha256, fsync of each file and its folder, hard link into the inbox, the pull ledger's
  commits, and the archive rename on the server) — against ``sftp -b`` with ``get`` of the same
  files (**floor**: the bytes and one open/read/close per file, nothing made durable, nothing
  archived), and ``sftp`` with ``get`` + ``rename`` into the archive folder per file (what the
  same exactly-once protocol costs the CLI, minus durability).
- **pull, one large file**: marketd against ``sftp get`` of the same file; MB/s.
- **push, labels**: marketd's push of N labels (upload to ``NAME.tmp``, size check, rename, the
  push ledger) against ``sftp`` ``put`` to ``NAME.tmp`` + ``rename`` per file, and a plain ``put``
  of each (floor).

Both sides run on this machine, so the figures share its two cores: the server, the client and
(marketd only) the fsyncs. The ratio is marketd / sftp (below 1: marketd is faster).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from marketd import config as config_mod  # noqa: E402
from marketd.app import App  # noqa: E402
from marketd.plugins.remotes.runner import run  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.remotes.erp import ErpSSHD, remote_section  # noqa: E402


def sftp_cli(erp, batch_lines: list[str]) -> float:
    """Seconds for one ``sftp -b`` batch (fails loudly if any command fails)."""
    batch = erp.dir / f"batch-{time.monotonic_ns()}.txt"
    batch.write_text("\n".join(batch_lines) + "\n")
    t0 = time.perf_counter()
    done = subprocess.run(erp.sftp_command(batch), capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"sftp failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return took


def make_app(root: Path, erp, pull=(), push=()) -> App:
    section = remote_section(erp, pull=list(pull), push=list(push), read_timeout_seconds=60)
    cfg = write_config(root, remotes={"erp": section})
    return App(config_mod.load(cfg))


def fill(folder: Path, n: int, size: int, seed: bytes) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n):
        data = (seed * (size // len(seed) + 1))[: size - 12] + f"{i:011d}\n".encode()
        (folder / f"f{i:05d}.csv").write_bytes(data)
        total += len(data)
    return total


def reset(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def q(p: str | Path) -> str:
    return '"' + str(p).replace('"', '\\"') + '"'


def bench_pull_small(erp, work: Path, n: int, size: int, repeat: int) -> dict:
    runs = {"marketd": [], "sftp get": [], "sftp get+rename": []}
    nbytes = 0
    for r in range(repeat):
        # marketd
        reset(erp.local("export"))
        nbytes = fill(erp.local("export"), n, size, b"sku;ean;title;price\n")
        app_root = work / f"pull-small-{r}"
        app = make_app(app_root, erp, pull=[{"remote_dir": erp.remote("export"), "inbox": "catalog",
                                             "completeness": "final_name", "max_files": n}])
        t0 = time.perf_counter()
        report = run(app, "erp", force=True)
        runs["marketd"].append(time.perf_counter() - t0)
        assert report.pulled == n and not report.errors and not report.error, report.summary()
        app.close()
        shutil.rmtree(app_root)
        # sftp: plain get
        reset(erp.local("export"))
        fill(erp.local("export"), n, size, b"sku;ean;title;price\n")
        dest = work / "sftp-get"
        reset(dest)
        runs["sftp get"].append(sftp_cli(erp, [f"lcd {q(dest)}", f"cd {q(erp.remote('export'))}", "mget *"]))
        assert len(os.listdir(dest)) == n
        # sftp: get + rename into an archive folder, per file (the same remote work as marketd)
        reset(dest)
        erp.local("export/done").mkdir()
        names = sorted(p.name for p in erp.local("export").iterdir() if p.is_file())
        lines = [f"lcd {q(dest)}", f"cd {q(erp.remote('export'))}"]
        for name in names:
            lines += [f"get {name}", f"rename {name} done/{name}"]
        runs["sftp get+rename"].append(sftp_cli(erp, lines))
        assert len(os.listdir(dest)) == n
    return {"runs": runs, "bytes": nbytes, "files": n}


def bench_pull_large(erp, work: Path, mb: int, repeat: int) -> dict:
    runs = {"marketd": [], "sftp get": []}
    big = erp.local("large/big.bin")
    reset(erp.local("large"))
    with open(big, "wb") as fh:
        chunk = os.urandom(1 << 20)
        for _ in range(mb):
            fh.write(chunk)
    size = big.stat().st_size
    for r in range(repeat):
        app_root = work / f"pull-large-{r}"
        app = make_app(app_root, erp, pull=[{"remote_dir": erp.remote("large"), "inbox": "catalog",
                                             "completeness": "final_name", "after": "keep"}])
        t0 = time.perf_counter()
        report = run(app, "erp", force=True)
        runs["marketd"].append(time.perf_counter() - t0)
        assert report.pulled == 1 and report.pulled_bytes == size, report.summary()
        app.close()
        shutil.rmtree(app_root)
        dest = work / "sftp-large"
        reset(dest)
        runs["sftp get"].append(sftp_cli(erp, [f"lcd {q(dest)}", f"get {q(erp.remote('large/big.bin'))}"]))
        assert (dest / "big.bin").stat().st_size == size
        shutil.rmtree(dest)
    shutil.rmtree(erp.local("large"))
    return {"runs": runs, "bytes": size, "files": 1}


def bench_push(erp, work: Path, n: int, kb: int, repeat: int) -> dict:
    runs = {"marketd": [], "sftp put+rename": [], "sftp put": []}
    src = work / "labels-src"
    reset(src)
    nbytes = 0
    for i in range(n):
        data = b"%PDF-1.4 label " + os.urandom(kb * 1024 - 15)
        (src / f"L{i:05d}.pdf").write_bytes(data)
        nbytes += len(data)
    names = sorted(p.name for p in src.iterdir())
    for r in range(repeat):
        reset(erp.local("import"))
        app_root = work / f"push-{r}"
        app = make_app(app_root, erp, push=[{"outbox": "labels", "remote_dir": erp.remote("import"),
                                             "existing": "push"}])
        shutil.copytree(src, app_root / "outbox" / "labels", dirs_exist_ok=True)
        t0 = time.perf_counter()
        report = run(app, "erp", force=True)
        runs["marketd"].append(time.perf_counter() - t0)
        assert report.pushed == n and not report.errors and not report.error, report.summary()
        assert len(os.listdir(erp.local("import"))) == n
        app.close()
        shutil.rmtree(app_root)
        reset(erp.local("import"))
        lines = [f"lcd {q(src)}", f"cd {q(erp.remote('import'))}"]
        for name in names:
            lines += [f"put {name} {name}.tmp", f"rename {name}.tmp {name}"]
        runs["sftp put+rename"].append(sftp_cli(erp, lines))
        assert len(os.listdir(erp.local("import"))) == n
        reset(erp.local("import"))
        runs["sftp put"].append(sftp_cli(erp, [f"lcd {q(src)}", f"cd {q(erp.remote('import'))}", "mput *"]))
        assert len(os.listdir(erp.local("import"))) == n
    return {"runs": runs, "bytes": nbytes, "files": n}


def show(title: str, res: dict, floor: str) -> list[str]:
    med = {k: statistics.median(v) for k, v in res["runs"].items()}
    mb = res["bytes"] / 1e6
    out = [f"{title}: {res['files']} file(s), {mb:.1f} MB (median of {len(res['runs']['marketd'])})"]
    for k, t in med.items():
        ratio = f"  ratio {med['marketd'] / t:5.2f}x" if k != "marketd" else ""
        tag = "  (floor)" if k == floor else ""
        out.append(f"  {k:<18} {t:7.2f} s  {res['files'] / t:8.1f} files/s  {mb / t:7.1f} MB/s{ratio}{tag}")
    out.append("  runs: " + "; ".join(f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in res["runs"].items()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--size", type=int, default=2048, help="bytes per small file")
    ap.add_argument("--large-mb", type=int, default=50)
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--label-kb", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="the issue's 500 MB large file")
    args = ap.parse_args()
    if args.full:
        args.large_mb = 500
    work = Path(tempfile.mkdtemp(prefix="marketd-bench-remotes-"))
    erp = ErpSSHD(work / "sshd").start()
    lines = [f"# python bench/bench_remotes.py {' '.join(sys.argv[1:])}",
             f"# {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"OpenSSH sshd internal-sftp on loopback{' (chrooted)' if erp.chrooted else ''}, "
             f"{subprocess.run(['ssh', '-V'], capture_output=True, text=True).stderr.strip()}"]
    try:
        lines += show("pull, small files", bench_pull_small(erp, work, args.files, args.size, args.repeat), "sftp get")
        lines += show("pull, one large file", bench_pull_large(erp, work, args.large_mb, args.repeat), "sftp get")
        lines += show("push, labels", bench_push(erp, work, args.labels, args.label_kb, args.repeat), "sftp put")
    finally:
        erp.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
