"""Run every benchmark and rewrite bench/RESULTS.md.

    .venv/bin/python bench/run_all.py                  (what `make bench` runs; ~2 minutes)
    .venv/bin/python bench/run_all.py --commit HEAD    measure a committed revision instead
                                                       of the working tree (exported with
                                                       git archive; bench/ still from here)

Each benchmark runs in its own process (its own bench database, its own servers) and hands
its figures back as JSON; this script only orchestrates and writes the report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BENCH, PYTHON, ROOT, log, machine  # noqa: E402

COMMAND = ".venv/bin/python bench/run_all.py"
BENCHMARKS = [("record_order", "bench/record_order.py"), ("dashboard", "bench/dashboard.py")]


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def export(rev: str, into: Path) -> str:
    """The app at `rev` in `into` (without its bench/, so this bench/ is the one used)."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not sha:
        raise SystemExit(f"unknown revision {rev!r}")
    archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    shutil.rmtree(into / "bench", ignore_errors=True)
    return sha


def run_one(script: str, out: Path, env: dict[str, str]) -> tuple[dict[str, Any] | None, float, str]:
    start = time.monotonic()
    proc = subprocess.run([PYTHON, script, "--json", str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env=env)
    took = time.monotonic() - start
    if proc.returncode != 0 or not out.exists():
        return None, took, proc.stdout
    return json.loads(out.read_text()), took, proc.stdout


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def fmt_rate(x: dict[str, Any]) -> str:
    return f"{x['per_second']:,.0f}"


def record_order_md(r: dict[str, Any]) -> list[str]:
    t, s, c = r["throughput"], r["statements"], r["config"]
    ratio, ratio_dir = r["ratio_vs_ref_http"], r["ratio_vs_direct"]
    rows = [
        ("app: GraphQL `recordOrder` via uvicorn", t["app"]),
        ("reference: asyncpg transaction behind a Starlette endpoint (uvicorn, same body)", t["ref"]),
        ("reference: the same asyncpg transaction called in-process (no HTTP)", t["dir"]),
    ]
    out = [
        "## P4: `recordOrder` on PostgreSQL (`bench/record_order.py`)",
        "",
        f"{c['rounds']} alternating rounds of {c['orders_per_round']:,} orders per side after a "
        f"{c['warmup']}-order warm-up; {c['concurrency']} requests in flight; {c['members_per_side']} members "
        f"per side; 2 lines per order; pool max {c['pool_max']} connections on every side.",
        "",
        "| side | orders/s | p50 ms | p99 ms | orders/s per round |",
        "|---|---:|---:|---:|---|",
    ]
    for name, x in rows:
        out.append(f"| {name} | {fmt_rate(x)} | {x['p50_ms']} | {x['p99_ms']} | "
                   f"{', '.join(f'{v:,.0f}' for v in x['rounds_per_second'])} |")
    out += [
        "",
        f"- **ratio app ÷ reference (HTTP) = {ratio}** (target ≥ 0.6: {verdict(ratio >= 0.6)})",
        f"- ratio app ÷ reference (in-process asyncpg, no HTTP) = {ratio_dir}",
        f"- **drifting members: {r['drifting_members']}** (target 0: {verdict(r['drifting_members'] == 0)}); "
        "checked in SQL for every member: `points_balance = sum(ledger_entries.amount)` and "
        "`points_pending = sum(awards.amount - awards.reversed) where status = 'held'`",
        "",
        "SQL statements per order (counted in-process, see README):",
        "",
        "| | total round trips | queries | BEGIN/COMMIT | pool resets |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("app", "ref"):
        x = s[name]
        label = "app" if name == "app" else "reference transaction"
        out.append(f"| {label} | {x['total']} ({x['min_total']}-{x['max_total']}) | {x['queries']} | "
                   f"{x['tx_control']} | {x['pool_resets']} |")
    same = "yes" if r["app_ref_writes_equal"] else "**NO**"
    out += ["", "Rows written, per side. `app` and `ref` received exactly the same orders (the "
            f"statement count adds 22 to each), so their rows must match: {same}. `dir` is the "
            "in-process reference on its own members.", "",
            "| side | orders | lines | awards | points | order.recorded | points.earned | tier_changed "
            "| tier_changes | members with a tier | drifting |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    drift = {d["side"]: d for d in r["drift"]}
    for w in r["writes"]:
        out.append(f"| {w['side']} | {w['orders']} | {w['order_lines']} | {w['awards']} | {w['points']} | "
                   f"{w['ev_order_recorded']} | {w['ev_points_earned']} | {w['ev_tier_changed']} | "
                   f"{w['tier_changes']} | {w['members_with_tier']} | {drift.get(w['side'], {}).get('drifting')} |")
    out += ["", "The app's statements for one order:", "", "```"] + s["app_sample"] + ["```", "",
            "Plan of the tier-window query on `orders` (no index on `orders.member_id`):", "", "```"] + \
        r["tier_check_plan"] + ["```", ""]
    return out


def dashboard_md(r: dict[str, Any]) -> list[str]:
    t, s, f, c = r["throughput"], r["statements"], r["fixed_rate"], r["config"]
    ratio = r["ratio_vs_ref"]
    out = [
        "## P3: member dashboard (`bench/dashboard.py`)",
        "",
        f"Query (member JWT): `{r['query']}`, member `{c['member']}` with {c['ledger_entries_per_member']} "
        f"ledger entries, a tier and pending points. All three endpoints returned identical JSON: "
        f"{'yes' if r['same_json'] else 'NO'}.",
        f"{c['rounds']} alternating rounds of {c['seconds_per_round']} s per endpoint, {c['concurrency']} in flight.",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | req/s per round |",
        "|---|---:|---:|---:|---|",
    ]
    names = {"app": "app: GraphQL `me` via uvicorn",
             "ref": "reference: Starlette + tortoise `.values()` + orjson (TARGETS.md's hand-written)",
             "ref_asyncpg": "reference: Starlette + raw asyncpg + orjson"}
    for k, label in names.items():
        x = t[k]
        out.append(f"| {label} | {fmt_rate(x)} | {x['p50_ms']} | {x['p99_ms']} | "
                   f"{', '.join(f'{v:,.0f}' for v in x['rounds_per_second'])} |")
    fa, fr, fl = f["app"], f["ref"], f["app_low"]
    out += [
        "",
        f"- **ratio app ÷ reference (tortoise .values()) = {ratio}** (target ≥ 0.7: {verdict(ratio >= 0.7)})",
        f"- ratio app ÷ reference (raw asyncpg) = {r['ratio_vs_ref_asyncpg']}",
        f"- **p99 at a fixed {fa['rate']:.0f} req/s ({fa['seconds']:.0f} s, open loop): app {fa['p99_ms']} ms** "
        f"(p50 {fa['p50_ms']}, max {fa['max_ms']}; target ≤ 50 ms: {verdict(fa['p99_ms'] <= 50)}); "
        f"reference {fr['p99_ms']} ms (p50 {fr['p50_ms']}). The {fa['requests']} requests due within "
        f"{fa['seconds']:.0f} s were all answered after {fa['drained_seconds']} s (app) and "
        f"{fr['drained_seconds']} s (reference); above its capacity the app's queue grows for the whole window",
        f"- p99 at half that rate, {fl['rate']:.0f} req/s: app {fl['p99_ms']} ms (p50 {fl['p50_ms']}, "
        f"max {fl['max_ms']})",
        "- note: P3 also lists 10 recommendations; the schema has none yet, so they are not in the query.",
        "",
        "SQL per request (counted in-process over 50 requests after a warm-up, see README):",
        "",
        "| endpoint | queries | pool resets | total round trips |",
        "|---|---:|---:|---:|",
    ]
    for k in names:
        x = s[k]
        out.append(f"| {k} | {x['queries']} | {x['pool_resets']} | {x['total']} |")
    out += ["", "The app's statements for one request:", "", "```"] + s["app"]["statements"] + ["```", ""]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", help="measure this revision (git archive) instead of the working tree")
    args = parser.parse_args()
    started = datetime.now(UTC)
    m_before = machine()
    results: dict[str, Any] = {}
    errors: list[str] = []
    t0 = time.monotonic()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if args.commit:
            app_dir = Path(tmp) / "app"
            app_dir.mkdir()
            sha = export(args.commit, app_dir)
            env["PATRON_BENCH_APP_DIR"] = str(app_dir)
            code = f"commit {sha[:7]} exported with `git archive` (uncommitted changes not measured)"
            command = f"{COMMAND} --commit {args.commit}"
        else:
            env.pop("PATRON_BENCH_APP_DIR", None)
            dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
                     if not line[3:].startswith("bench/")]
            code = f"working tree at commit {git('rev-parse', '--short', 'HEAD')}" + (
                f" plus uncommitted changes in {len(dirty)} file(s) outside bench/" if dirty else "")
            command = COMMAND
        for name, script in BENCHMARKS:
            log(f"running {script}")
            data, took, stdout = run_one(script, Path(tmp) / f"{name}.json", env)
            print(stdout, end="", flush=True)
            if data is None:
                errors.append(f"{script} failed (see its output)")
            else:
                data["took_seconds"] = round(took, 1)
                results[name] = data
    total = time.monotonic() - t0
    m_after = machine()
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_all.py`; do not edit by hand. How each figure is made: `bench/README.md`.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: nproc {m_before['nproc']}, {m_before['cpu']}; Python {m_before['python']}; "
        f"PostgreSQL {m_before['postgres']}; {m_before['platform']}",
        f"- load average before / after: {m_before['loadavg']} / {m_after['loadavg']} "
        "(other work on the machine shows up here; ratios are measured in the same run to absorb it)",
        f"- code: {code}",
        f"- command: `{command}`" + (" (or `make bench`)" if command == COMMAND else "") + f"; took {total:.0f} s",
        "- servers: `uvicorn --factory server:create_app --workers 1 --no-access-log --log-level warning` "
        "(env DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_bench, PATRON_BOOTSTRAP_ADMIN_KEY, "
        "PATRON_INPROCESS_JOBS=0, PATRON_MEMBER_JWT_SECRET, PATRON_RATE_LIMIT_KEY/MEMBER/ANONYMOUS=0, no REDIS_URL) "
        "and the same flags for "
        "`bench.reference_app:create_app`; load from a lean Python HTTP/1.1 client on loopback",
        "",
    ]
    if errors:
        lines += ["**Failures:** " + "; ".join(errors), ""]
    if "record_order" in results:
        lines += record_order_md(results["record_order"])
    if "dashboard" in results:
        lines += dashboard_md(results["dashboard"])
    (BENCH / "RESULTS.md").write_text("\n".join(lines))
    log(f"wrote bench/RESULTS.md ({total:.0f} s)")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
