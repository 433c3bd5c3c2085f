"""Run every benchmark and print one table of figures, floors, ratios and aims.

    python benchmarks/run.py            # the full sizes (a few minutes; about 2 GB of temporary files)
    python benchmarks/run.py --quick    # small sizes, about a minute: checks the machinery, not the aims

Each figure is measured against a floor in the same run, on the same machine and data: bare Python for
start-up, bare sqlite3 for the store and the review queries, the csv module for the export. Ratios, not
absolute times, are what the aims are about. Every task runs in a fresh child process (benchmarks/tasks.py)
so its peak memory is its own. Not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
TASKS = HERE / "tasks.py"

FULL = {"startup_runs": 20, "import_n": 100_000, "review_clients": 10_000, "export_clients": 10_000,
        "export_small_clients": 1_000, "progress_sample": 50, "caseload_repeat": 5, "scoring_n": 200_000,
        "one_client_repeat": 50}
QUICK = {"startup_runs": 5, "import_n": 10_000, "review_clients": 1_000, "export_clients": 500,
         "export_small_clients": 125, "progress_sample": 20, "caseload_repeat": 3, "scoring_n": 20_000,
         "one_client_repeat": 20}

# The everyday commands of issue 15, each against `python -c pass` in the same environment (aim <= 5x). They
# run on a small demo record (STARTUP_CLIENTS), so the figure is start-up plus the command's own little work.
STARTUP_CLIENTS = 25
EVERYDAY = {
    "ipt --help": ["--help"],
    "ipt instruments list": ["instruments", "list"],
    "ipt score phq9 ...": ["score", "phq9", "--answers", "1,2,0,1,1,0,2,1,0"],
    "ipt progress CLIENT": ["progress", "CLIENT"],
    "ipt caseload": ["caseload"],
    "ipt due CLIENT": ["due", "CLIENT"],
    "ipt clients show CLIENT": ["clients", "show", "CLIENT"],
    "ipt alerts": ["alerts"],
}


@dataclass
class Row:
    figure: str
    value: str
    floor: str
    floor_value: str
    ratio: Optional[float]
    aim: str
    met: Optional[bool]


def task(name: str, env: dict, script: Path = TASKS, **args) -> dict:
    done = subprocess.run([sys.executable, str(script), name, json.dumps(args)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"benchmark task {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def wall(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-800:]}")
    return seconds


def interleaved(commands: dict[str, list[str]], runs: int, env: dict) -> dict[str, float]:
    """Median wall time of each command, run in turn so that drift hits them all alike (one warm-up each)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for name, cmd in commands.items():
        wall(cmd, env)
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(wall(cmd, env))
    return {name: statistics.median(t) for name, t in times.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def sec(seconds: float) -> str:
    return f"{seconds:.2f} s"


def mb(value: float) -> str:
    return f"{value:.0f} MB"


def ratio_row(figure, value, floor, floor_value, a, b, aim=None, limit=None, fmt=None) -> Row:
    fmt = fmt or (ms if max(a, b) < 1 else sec)
    r = a / b if b else None
    return Row(figure, value or fmt(a), floor, floor_value or fmt(b), round(r, 2) if r else None, aim or "-",
               None if limit is None or r is None else r <= limit)


def fresh(*paths: Path) -> None:
    """Remove outputs of an earlier run kept in --workdir (an import into a full database measures nothing)."""
    for path in paths:
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)


def machine() -> dict:
    info = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
            "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--workdir", help="keep the databases here (default: a temporary folder, removed)")
    parser.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    parser.add_argument("--only", help="comma-separated groups: startup,scoring,import,review,export")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    groups = set((args.only or "startup,scoring,import,review,export").split(","))
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ipt-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    # Its own compiled-instrument cache, filled by the first command (the demo): the everyday case.
    env = {**os.environ, "IPT_DATA_DIR": str(work / "data"), "IPT_DB": str(work / "data" / "ipt.db"),
           "IPT_CACHE_DIR": str(work / "cache"),
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    env.pop("IPT_DEBUG", None)
    # What a user's machine does: byte-code cached in __pycache__ (pip compiles site-packages at install; the
    # warm-up run writes ours). With PYTHONDONTWRITEBYTECODE set, every run would compile every module of the
    # package again and the start-up figures would measure the compiler.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    ipt = [sys.executable, "-m", "ipt_measures"]
    script = Path(sys.executable).with_name("ipt")
    if script.exists():
        ipt = [str(script)]  # what users type: the console script
    rows: list[Row] = []
    started = time.perf_counter()

    def say(text):
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    try:
        if "startup" in groups:
            say(f"start-up: every everyday command on a {STARTUP_CLIENTS}-client demo record")
            small = work / "startup.db"
            fresh(small)
            subprocess.run([*ipt, "demo", "--clients", str(STARTUP_CLIENTS), "--db", str(small)], env=env,
                           capture_output=True, check=True)
            small_env = {**env, "IPT_DB": str(small)}
            caseload = subprocess.run([*ipt, "caseload", "--json"], env=small_env, capture_output=True, text=True)
            client = json.loads(caseload.stdout)[0]["client_id"]  # one with an active course, as `due` needs
            available = subprocess.run([*ipt, "--help"], env=small_env, capture_output=True, text=True).stdout
            commands = {"pass": [sys.executable, "-c", "pass"]}
            for label, argv_ in EVERYDAY.items():
                if argv_[0].startswith("-") or f"  {argv_[0]} " in available:
                    commands[label] = [*ipt, *(client if a == "CLIENT" else a for a in argv_)]
            t = interleaved(commands, sizes["startup_runs"], small_env)
            for label in EVERYDAY:
                if label in t:
                    rows.append(ratio_row(f"start-up: {label}", None, "python -c pass", None, t[label], t["pass"],
                                          "<= 5x", 5))
                else:  # `ipt alerts` arrives with the alerts work; until then the row says so
                    rows.append(Row(f"start-up: {label}", "(no such command yet)", "python -c pass", "", None,
                                    "<= 5x", None))
            startup_help = t["ipt --help"]
        else:
            startup_help = None

        if "scoring" in groups:
            n = sizes["scoring_n"]
            say(f"scoring {n:,} PHQ-9 answer sets, and a plain sum-and-band loop")
            s = task("scoring_library", env, n=n)  # the floor is timed in the same process, in alternating rounds
            us = lambda seconds: f"{seconds * 1e6:.2f} us"  # noqa: E731
            rows.append(ratio_row("score one PHQ-9 answer set (ipt_measures.score)", None, "plain sum-and-band loop",
                                  None, s["seconds"], s["floor_seconds"], "<= 5x", 5, fmt=us))
            a = task("assess_library", env, n=n // 4)
            rows.append(ratio_row("assess() one PHQ-9 (score, alerts, change from baseline)", None,
                                  "the score alone (item -> value), same run", None, a["seconds"], a["score_seconds"],
                                  "-", fmt=us))

        if "import" in groups:
            n = sizes["import_n"]
            say(f"import + score + store of {n:,} administrations, and its floor")
            fresh(*(work / f"import-{k}.db" for k in ("lib", "store", "floor", "cli")))
            lib = task("import_library", env, db=str(work / "import-lib.db"), n=n)
            stored = task("store_library", env, db=str(work / "import-store.db"), n=n)
            floor = task("import_floor", env, db=str(work / "import-floor.db"), n=n)
            floor_label = "sqlite3 executemany, same rows"
            rows.append(ratio_row(f"import+score+store {n:,} administrations", f"{sec(lib['seconds'])}"
                                  f" ({n / lib['seconds']:,.0f}/s)", floor_label, None, lib["seconds"], floor["seconds"],
                                  "<= 1.5x", 1.5, fmt=sec))
            rows.append(ratio_row(f"store only: bulk_import {n:,} scored", None, floor_label, None, stored["seconds"],
                                  floor["seconds"], "-", fmt=sec))
            rows.append(ratio_row("peak memory: import+score+store", mb(lib["peak_rss_mb"]), "floor process",
                                  mb(floor["peak_rss_mb"]), lib["peak_rss_mb"], floor["peak_rss_mb"],
                                  "- (both hold the input)", fmt=mb))
            say("ipt import of the same administrations as a long CSV")
            csv_path = work / "import.csv"
            task("export_library", env, db=str(work / "import-lib.db"), out=str(csv_path), items=True)
            cli_import = task("cli", env, args=["import", str(csv_path), "--db", str(work / "import-cli.db"), "--no-progress"])
            rows.append(ratio_row(f"ipt import CSV, {n:,} administrations", f"{sec(cli_import['seconds'])}",
                                  floor_label, f"{sec(floor['seconds'])}", cli_import["seconds"], floor["seconds"],
                                  "<= 3x", 3, fmt=sec))
            rows.append(Row("peak memory: ipt import", mb(cli_import["peak_rss_mb"]), "", "", None, "-", None))

        if "review" in groups:
            k = sizes["review_clients"]
            db = work / f"review-{k}.db"
            if not db.exists():
                say(f"building a {k:,}-client caseload")
                built = task("build_demo", env, db=str(db), clients=k, shape="clinic")
                say(f"  {built['administrations']:,} administrations in {built['seconds']:.0f} s")
            say("progress and caseload")
            p = task("progress_library", env, db=str(db), k=sizes["progress_sample"])
            pf = task("progress_floor", env, db=str(db), k=sizes["progress_sample"])
            rows.append(ratio_row(f"progress CLIENT, library ({k:,} clients, median of {p['n']})", None,
                                  "bare sqlite3, same rows", None, p["seconds"], pf["seconds"], "< 50 ms",
                                  None, fmt=ms))
            rows[-1].met = p["seconds"] < 0.050
            client = "demo-" + str(k // 2).zfill(max(4, len(str(k))))
            cp = task("cli", env, args=["progress", client, "--db", str(db)])
            base = startup_help or wall([*ipt, "--help"], env)
            rows.append(ratio_row("ipt progress CLIENT, whole command", None, "ipt --help", None, cp["seconds"], base,
                                  "-", fmt=ms))
            c = task("caseload_library", env, db=str(db), repeat=sizes["caseload_repeat"])
            cf = task("caseload_floor", env, db=str(db), repeat=sizes["caseload_repeat"])
            rows.append(ratio_row(f"caseload, library ({c['rows']:,} active courses)", None, "bare sqlite3, same 3 queries",
                                  None, c["seconds"], cf["seconds"], "-", fmt=ms))
            cc = task("cli", env, args=["caseload", "--db", str(db)])
            rows.append(ratio_row("ipt caseload, whole command", None, "ipt --help", None, cc["seconds"], base, "-", fmt=ms))
            say("backup")
            fresh(work / "backup.db", work / "backup-floor.db")
            b = task("backup_library", env, db=str(db), dest=str(work / "backup.db"))
            bf = task("backup_floor", env, db=str(db), dest=str(work / "backup-floor.db"))
            rows.append(ratio_row(f"ipt backup ({b['bytes'] / 1e6:,.0f} MB, with integrity check of the copy)", None,
                                  "Connection.backup alone", None, b["seconds"], bf["seconds"], "-", fmt=sec))

        if "export" in groups:
            peaks = {}
            for k in (sizes["export_small_clients"], sizes["export_clients"]):
                db = work / f"export-{k}.db"
                if not db.exists():
                    say(f"building {k:,} clients x 16 sessions x 4 instruments")
                    built = task("build_demo", env, db=str(db), clients=k, shape="x16x4")
                    say(f"  {built['administrations']:,} administrations in {built['seconds']:.0f} s")
                say(f"export of {k:,} clients to CSV, and its floor")
                e = task("export_library", env, db=str(db), out=str(work / f"export-{k}.csv"))
                ef = task("export_floor", env, db=str(db), out=str(work / f"export-floor-{k}.csv"))
                peaks[k] = e["peak_rss_mb"]
                if k == sizes["export_clients"]:
                    rows.append(ratio_row(f"export csv-long, {k:,} clients x16x4 ({e['administrations']:,} adm.)",
                                          f"{sec(e['seconds'])} ({e['bytes'] / 1e6:,.0f} MB)", "same query, csv module",
                                          f"{sec(ef['seconds'])} ({ef['bytes'] / 1e6:,.0f} MB)", e["seconds"], ef["seconds"],
                                          "<= 2x", 2, fmt=sec))
                    rows.append(ratio_row("peak memory: export", mb(e["peak_rss_mb"]), "floor process",
                                          mb(ef["peak_rss_mb"]), e["peak_rss_mb"], ef["peak_rss_mb"], "-", fmt=mb))
            k = sizes["export_small_clients"]
            say(f"export of {k:,} clients as csv-long and as FHIR, CPU in one process")
            f = task("export_formats", env, db=str(work / f"export-{k}.db"), formats=["csv-long", "fhir"])
            per = {fmt: seconds / f["administrations"] for fmt, seconds in f["seconds"].items()}
            rows.append(ratio_row(f"export fhir, CPU per administration ({f['administrations']:,} adm.)",
                                  f"{per['fhir'] * 1e6:,.0f} us", "csv-long, same run", f"{per['csv-long'] * 1e6:,.0f} us",
                                  per["fhir"], per["csv-long"], "<= 3x", 3))
            small, large = sizes["export_small_clients"], sizes["export_clients"]
            rows.append(ratio_row(f"export peak memory at {large:,} clients", mb(peaks[large]), f"at {small:,} clients",
                                  mb(peaks[small]), peaks[large], peaks[small], "flat (<= 1.25x)", 1.25, fmt=mb))
            say("exporting one client, on the small and the large record")
            one = {k: task("export_one_client", env, db=str(work / f"export-{k}.db"), repeat=sizes["one_client_repeat"])
                   for k in (small, large)}
            rows.append(ratio_row(f"export one client, record of {large:,} clients", None, f"record of {small:,} clients",
                                  None, one[large]["seconds"], one[small]["seconds"], "flat (<= 1.25x)", 1.25, fmt=ms))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    info = machine()
    print_table(rows, info, args.quick, time.perf_counter() - started)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"machine": info, "quick": args.quick, "sizes": sizes,
                                                   "rows": [asdict(r) for r in rows]}, indent=2))
    return 0


def print_table(rows: list[Row], info: dict, quick: bool, seconds: float) -> None:
    header = ["figure", "value", "floor", "floor value", "ratio", "aim", "met"]
    table = [[r.figure, r.value, r.floor, r.floor_value, "" if r.ratio is None else f"{r.ratio:.2f}x", r.aim,
              "" if r.met is None else ("yes" if r.met else "NO")] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in table:
        print(line(cells))
    print()
    print(f"Machine: {info.get('cpu', platform.processor() or '?')}, {info['cpus']} CPUs, {info.get('memory', '?')} RAM;"
          f" {info['platform']}; Python {info['python']}, SQLite {info['sqlite']}.")
    print(f"{'Quick sizes (not comparable with the aims). ' if quick else ''}Total {seconds:.0f} s.")


if __name__ == "__main__":
    sys.exit(main())
