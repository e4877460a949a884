"""Run lambda-emu's benchmarks: `python bench/run.py [--only NAME ...] [--quick] [--markdown FILE]`.

Prints one table; ``--markdown BENCHMARKS.md`` rewrites the part of that file between the
``<!-- bench:results -->`` markers (the machine, the command, one table per benchmark).
Everything talks to 127.0.0.1 only; each benchmark bounds its loops in count and wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):
    # `python bench/run.py`: make `bench` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result  # noqa: E402

#: In run order; each module has NAME, TITLE and run(quick) -> list[Result].
MODULES = ["startup", "cold_start", "invoke", "async_events", "sqs_api", "sqs_pipeline", "kinesis_pipeline",
           "event_filters", "containers", "reset", "state_dir", "dynamodb"]

START = "<!-- bench:results -->"
END = "<!-- /bench:results -->"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass
    versions = {}
    for package in ("aiohttp", "boto3", "awslambdaric", "moto"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001
            versions[package] = "?"
    return {
        "CPU": f"{cpu} (the whole model name in /proc/cpuinfo)",
        "Cores": f"{os.cpu_count()} logical (affinity: {len(os.sched_getaffinity(0))})",
        "RAM": ram,
        "OS": os_name,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def table(results: list[Result]) -> str:
    rows = ["| Measurement | Target | Result | Baseline (same run) | Verdict |", "|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r.name} | {r.target or '—'} | {r.shown()} | {r.baseline or '—'} | {r.verdict or '—'} |")
    notes = [f"- {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(rows) + ("\n\n" + "\n".join(notes) if notes else "")


def markdown(sections: list[tuple[str, str, list[Result], float, float]], quick: bool, argv: list[str]) -> str:
    info = machine()
    lines = [START, "", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    shown = [a for i, a in enumerate(argv) if a not in ("--markdown", "--json")
             and (i == 0 or argv[i - 1] not in ("--markdown", "--json"))]
    command = "python bench/run.py " + " ".join(shown)
    lines += ["", f"Command: `{command.strip()}`" + (" (quick mode: fewer rounds)" if quick else ""), ""]
    lines += ["## Results", ""]
    for name, title, results, seconds, load in sections:
        lines += [f"### {title} — `{name}`", "", f"{seconds:.0f} s; 1-minute load average at its start: {load:.2f}",
                  "", table(results), ""]
    lines += [END]
    return "\n".join(lines)


def write_markdown(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        path.write_text(head + block + tail)
    else:
        path.write_text((text + "\n\n" if text else "# lambda-emu benchmarks\n\n") + block + "\n")


def print_table(results: list[Result]) -> None:
    widths = [62, 12, 22, 14]
    print(f"{'measurement':<{widths[0]}} {'target':<{widths[1]}} {'result':<{widths[2]}} {'verdict':<{widths[3]}}"
          " baseline")
    for r in results:
        name = r.name if len(r.name) <= widths[0] else r.name[: widths[0] - 1] + "…"
        print(f"{name:<{widths[0]}} {r.target or '-':<{widths[1]}} {r.shown():<{widths[2]}} "
              f"{r.verdict or '-':<{widths[3]}} {r.baseline}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=MODULES, help="run only this benchmark (repeatable)")
    parser.add_argument("--quick", action="store_true", help="a few seconds per benchmark (fewer rounds)")
    parser.add_argument("--markdown", type=Path, help="write the results block into this markdown file")
    parser.add_argument("--json", type=Path, help="write every result (with extras) as JSON")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample every lambda-emu server with py-spy into DIR (see bench/profile_report.py); "
                             "the numbers of a profiled run are not results")
    args = parser.parse_args(argv)
    if args.profile:
        os.environ["BENCH_PROFILE"] = str(args.profile.resolve())

    sections: list[tuple[str, str, list[Result], float, float]] = []
    failed = False
    for name in args.only or MODULES:
        module = importlib.import_module(f"bench.{name}")
        os.environ["BENCH_PROFILE_TAG"] = name
        print(f"== {name}: {module.TITLE}", flush=True)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        try:
            results = module.run(quick=args.quick)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark doesn't hide the others
            traceback.print_exc()
            failed = True
            results = [Result(name, "benchmark failed", None, "", verdict="ERROR", note=f"{type(exc).__name__}: {exc}")]
        seconds = time.perf_counter() - started
        print_table(results)
        print(f"   ({seconds:.1f} s; load average at start {load:.2f})", flush=True)
        sections.append((name, module.TITLE, results, seconds, load))

    if args.markdown:
        write_markdown(args.markdown, markdown(sections, args.quick, argv))
        print(f"wrote {args.markdown}")
    if args.json:
        document = [
            {"benchmark": r.benchmark, "name": r.name, "value": r.value, "unit": r.unit, "target": r.target,
             "baseline": r.baseline, "verdict": r.verdict, "note": r.note, "extra": r.extra}
            for _, _, results, _, _ in sections for r in results
        ]
        args.json.write_text(json.dumps({"machine": machine(), "results": document}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
