"""Batch ``gabaguide assess`` throughput on one core, against a same-run parse/re-serialise baseline.

What it measures
    1. Generates ``--n`` synthetic patients (default 100,000, seeded; see ``generate_patients.py``)
       as JSON Lines in ``--workdir`` (default ``benchmarks/out``, git-ignored), and checks on a
       small sample that ``gabaguide assess FILE`` accepts them (exit 0, one line out per patient).
    2. baseline: a subprocess that reads the file, ``Patient.model_validate_json`` each line and
       writes ``patient.model_dump_json()`` per line -- the cost of merely parsing and
       re-serialising the input with the same models and interpreter.
    3. assess: ``.venv/bin/gabaguide assess FILE > out.jsonl`` -- the real batch command.
    Both run as subprocesses pinned to one core (``taskset -c 0``; unpinned, and said so, when
    taskset is missing), stdout to a file in the workdir, timed with ``time.perf_counter`` around
    ``subprocess.run`` (so interpreter start-up and imports count for both), best of ``--repeat``
    runs, interleaved. It reports patients/s for each and the ratio assess time / baseline time.
    The goal is at least 5,000 patients/s for assess.

How to run
    bash scripts/bench                     # runs: python benchmarks/bench_assess.py "$@"
    python benchmarks/bench_assess.py --n 100000 --seed 1 --repeat 3 --workdir benchmarks/out
    python benchmarks/bench_assess.py --json   # results as JSON

Exit status: 0 when every run succeeded (whether or not the goal is met), 1 when gabaguide or the
baseline failed or assess wrote the wrong number of lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_patients import write_jsonl

ROOT = Path(__file__).resolve().parent.parent
GOAL_PER_S = 5_000
SAMPLE = 200

# Parse and re-serialise only: the same input model and JSON round trip as the CLI, no rules.
BASELINE = """\
import sys
from pathlib import Path
from gabaguide.domain import Patient
text = Path(sys.argv[1]).read_text(encoding="utf-8")
patients = [Patient.model_validate_json(line) for line in text.splitlines() if line.strip()]
sys.stdout.writelines(p.model_dump_json() + "\\n" for p in patients)
"""


def gabaguide_exe() -> str:
    exe = Path(sys.executable).parent / "gabaguide"
    if exe.exists():
        return str(exe)
    found = shutil.which("gabaguide")
    if found is None:
        sys.exit("gabaguide executable not found next to this python or on PATH")
    return found


def pin_prefix() -> tuple[list[str], str]:
    """The taskset prefix for one core, and a note saying which core (or that there is none)."""
    if shutil.which("taskset") is None:
        return [], "not pinned (taskset missing)"
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else {0}
    cpu = 0 if 0 in allowed else min(allowed)
    return ["taskset", "-c", str(cpu)], f"taskset -c {cpu}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" (src modified)" if dirty else "")


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def run_once(cmd: list[str], out: Path) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    with out.open("wb") as f:
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE, check=False)
        seconds = time.perf_counter() - start
    return seconds, proc


def fail(what: str, cmd: list[str], proc: subprocess.CompletedProcess[bytes]) -> NoReturn:
    stderr = proc.stderr.decode("utf-8", "replace").splitlines()
    print(f"FAILED: {what} exited {proc.returncode}: {' '.join(cmd)}", file=sys.stderr)
    for line in stderr[:20]:
        print(f"  {line}", file=sys.stderr)
    if len(stderr) > 20:
        print(f"  ... {len(stderr) - 20} more line(s)", file=sys.stderr)
    sys.exit(1)


def check_sample(src: Path, workdir: Path, exe: str) -> None:
    """``gabaguide assess`` must accept the first SAMPLE patients: exit 0, one line each."""
    sample = workdir / "sample.jsonl"
    with src.open(encoding="utf-8") as f:
        lines = [line for _, line in zip(range(SAMPLE), f, strict=False)]
    sample.write_text("".join(lines), encoding="utf-8")
    out = workdir / "sample.out.jsonl"
    cmd = [exe, "assess", str(sample)]
    _, proc = run_once(cmd, out)
    if proc.returncode != 0:
        fail("sample check", cmd, proc)
    got = count_lines(out)
    if got != len(lines):
        sys.exit(f"FAILED: sample check wrote {got} line(s) for {len(lines)} patient(s)")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"patients-n{args.n}-s{args.seed}.jsonl"
    in_bytes = write_jsonl(src, args.n, args.seed)
    exe = gabaguide_exe()
    check_sample(src, workdir, exe)

    prefix, pinning = pin_prefix()
    runs = {
        "baseline": ([*prefix, sys.executable, "-c", BASELINE, str(src)], workdir / "baseline.out"),
        "assess": ([*prefix, exe, "assess", str(src)], workdir / "assess.out.jsonl"),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, (cmd, out) in runs.items():
            seconds, proc = run_once(cmd, out)
            if proc.returncode != 0:
                fail(name, cmd, proc)
            times[name].append(seconds)

    results: dict[str, Any] = {}
    for name, (cmd, out) in runs.items():
        lines = count_lines(out)
        if lines != args.n:
            sys.exit(f"FAILED: {name} wrote {lines} line(s) for {args.n} patient(s)")
        best = min(times[name])
        results[name] = {
            "patients": args.n,
            "seconds": round(best, 4),
            "patients_per_s": round(args.n / best, 1),
            "all_seconds": [round(t, 4) for t in times[name]],
            "output_bytes": out.stat().st_size,
            "output": str(out),
            "command": [*cmd[:-2], "<baseline script>", cmd[-1]] if name == "baseline" else cmd,
        }
    ratio = results["assess"]["seconds"] / results["baseline"]["seconds"]
    return {
        "n": args.n,
        "seed": args.seed,
        "repeat": args.repeat,
        "input": str(src),
        "input_bytes": in_bytes,
        "baseline": results["baseline"],
        "assess": results["assess"],
        "ratio_assess_over_baseline": round(ratio, 2),
        "goal_patients_per_s": GOAL_PER_S,
        "goal_met": results["assess"]["patients_per_s"] >= GOAL_PER_S,
        "machine": {
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "pinning": pinning,
            "platform": platform.platform(),
            "git": git_rev(),
        },
    }


def report(r: dict[str, Any]) -> None:
    m = r["machine"]
    print(
        f"gabaguide assess benchmark: {r['n']:,} patients (seed {r['seed']}), best of {r['repeat']}"
    )
    print(f"input     {r['input']} ({r['input_bytes'] / 1e6:.1f} MB)")
    print(f"machine   {m['cpu']}, {m['cores']} core(s); {m['python']}; {m['platform']}")
    print(f"pinning   {m['pinning']}; git {m['git']}")
    print()
    print(f"{'run':<10} {'patients':>9} {'seconds':>9} {'patients/s':>11} {'output MB':>10}")
    for name in ("baseline", "assess"):
        x = r[name]
        print(
            f"{name:<10} {x['patients']:>9,} {x['seconds']:>9.3f} {x['patients_per_s']:>11,.0f}"
            f" {x['output_bytes'] / 1e6:>10.1f}"
        )
    print()
    print(f"ratio assess/baseline time: {r['ratio_assess_over_baseline']:.2f}x")
    verdict = "met" if r["goal_met"] else "NOT met"
    print(f"goal >= {r['goal_patients_per_s']:,} patients/s: {verdict}")
    print("(each time includes interpreter start-up, imports and, for assess, loading the KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="patients (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / "benchmarks" / "out", help="where files go"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be at least 1")
    results = bench(args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results)


if __name__ == "__main__":
    main()
