"""Run the benchmarks and rewrite bench/RESULTS.md.

    .venv/bin/python bench/run_all.py                  every benchmark (what `make bench` runs; ~6 minutes)
    .venv/bin/python bench/run_all.py --only product_page,webhooks
                                                       a subset; the other sections of RESULTS.md keep
                                                       their last figures (each section says when it
                                                       was measured)
    .venv/bin/python bench/run_all.py --list           the benchmark names
    .venv/bin/python bench/run_all.py --commit HEAD    measure a committed revision instead of the
                                                       working tree (exported with git archive;
                                                       bench/ still from here)

Each benchmark runs in its own process (its own bench database, its own servers) and hands
its figures back as JSON. They are kept in bench/results/<name>.json with when, how and on
what they were measured; RESULTS.md is rendered from those files.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BENCH, PYTHON, ROOT, log, machine  # noqa: E402

COMMAND = ".venv/bin/python bench/run_all.py"
RESULTS = BENCH / "results"


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


def rounds(x: dict[str, Any]) -> str:
    return ", ".join(f"{v:,.0f}" for v in x["rounds_per_second"])


def stamp(r: dict[str, Any]) -> list[str]:
    m = r["meta"]
    return [f"_Measured {m['date']} UTC; {m['code']}; `{m['command']}`; took {m['took_seconds']:.0f} s; "
            f"load average before / after {m['load_before']} / {m['load_after']}; busiest processes before "
            f"(ps %CPU, lifetime): {m.get('busiest_before', '?')}._", ""]


# --- sections ------------------------------------------------------------------------------


def product_page_md(r: dict[str, Any]) -> list[str]:
    t, s, c, sd = r["throughput"], r["statements"], r["config"], r["seeded"]
    sizes = c["sizes"]
    out = [
        "## P1/P2: public product page (`bench/product_page.py`)",
        "",
        *stamp(r),
        f"Query (anonymous): `{r['query']}` with `p` = `{c['product']}`, `n` = {' and '.join(map(str, sizes))}.",
        f"The product has {sd['reviews']} published reviews of ~200 characters (imported through `importReviews`), "
        f"{sd['replied']} with a merchant reply (`replyToReview`), {sd['with_media']} with 1-2 published photos "
        f"({sd['published_photos']} rows) and {sd['pending_photos']} pending photos that must not show (rows inserted "
        "in SQL with the summary counters the app keeps; the summary was checked against the rows).",
        "Every way of asking below returned the same JSON as the references, for each page size: "
        + ("yes" if all(x["same"] for x in r["checks"].values()) else "**NO**")
        + "; the repeated anonymous request was answered from the response cache (`x-patron-cache: hit`): "
        + ("yes" if all(x["cache_hit_on_repeat"] for x in r["checks"].values()) else "**NO**")
        + ". Page JSON: " + ", ".join(f"{x['bytes']:,} bytes for first: {n}" for n, x in r["checks"].items()) + ".",
        "",
        f"{c['rounds']} alternating rounds of {c['seconds_per_round']} s per endpoint, {c['concurrency']} in flight.",
        "",
        "| endpoint | first | req/s | p50 ms | p99 ms | req/s per round | ÷ ref |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    names = {
        "app_cached": "app, anonymous, response cache hit (same body every time)",
        "app_miss": "app, anonymous, cache miss (unique unused `_nonce` variable per request)",
        "app_admin": "app, admin key (cache bypassed)",
        "app_cached_writes": f"app, anonymous, same body, while {c.get('write_rate', 10):g} adjustPoints/s commit "
                             "elsewhere (unrelated: they touch no tag of the page)",
        "ref": "reference: Starlette + tortoise `.values()` + orjson",
        "ref_asyncpg": "reference: Starlette + raw asyncpg + orjson",
        "ceiling": "ceiling: Starlette answering `{\"ok\":1}`",
    }
    for n in sizes:
        ref = t[f"ref@{n}"]["per_second"]
        for mode, label in names.items():
            x = t.get(f"{mode}@{n}")
            if x:
                out.append(f"| {label} | {n} | {fmt_rate(x)} | {x['p50_ms']} | {x['p99_ms']} | {rounds(x)} | "
                           f"{x['per_second'] / ref:.2f} |")
    out.append("")
    for n in sizes:
        q = r["ratios"][str(n)]
        out.append(f"- first: {n}: **P1 ratio, cached = {q['app_cached']}** (target ≥ 1.0: {verdict(q['app_cached'] >= 1)}); "
                   f"**uncached (cache miss) = {q['app_miss']}**, admin (no cache) = {q['app_admin']} "
                   f"(target ≥ 1.0: {verdict(q['app_miss'] >= 1)})"
                   + (f"; cached while other writes commit = {q['app_cached_writes']} (writes achieved: "
                      f"{', '.join(map(str, r.get('writes_per_second_achieved', [])))} /s)"
                      if "app_cached_writes" in q else ""))
    if "share_of_ceiling" in r["ratios"][str(sizes[0])]:
        sh = r["ratios"][str(sizes[0])]["share_of_ceiling"]
        out.append(f"- share of the ceiling at first: {sizes[0]} (TARGETS.md's table): "
                   + ", ".join(f"{k} {v * 100:.1f} %" for k, v in sh.items() if k != "ceiling"))
    out += [f"- {note}" for note in r.get("notes", [])]
    out += ["", "**P2**, SQL per request (counted in-process over 30 requests after 3 warm-ups, see README):", "",
            "| asked as | first | queries | pool resets | BEGIN/COMMIT | total round trips |",
            "|---|---:|---:|---:|---:|---:|"]
    worst = 0.0
    by_mode: dict[str, list[float]] = {}
    for n in sizes:
        for mode in ("app_cached", "app_miss", "app_admin", "ref", "ref_asyncpg"):
            x = s[f"{mode}@{n}"]
            out.append(f"| {mode} | {n} | {x['queries']} | {x['pool_resets']} | {x['tx_control']} | {x['total']} |")
            if mode.startswith("app"):
                worst = max(worst, x["queries"])
                by_mode.setdefault(mode, []).append(x["queries"])
    flat = all(len(set(v)) == 1 for v in by_mode.values())
    out += ["", f"- **P2: at most {worst:g} queries per request, the same for every page size: "
            f"{'yes' if flat else 'NO'}** (target ≤ 4, independent of page size: {verdict(worst <= 4 and flat)}). "
            "Counted as queries (what TARGETS.md counts); tortoise also sends asyncpg's pool reset after every "
            "query run outside a transaction, listed separately.",
            "", f"The app's statements for one uncached request (first: {sizes[-1]}):", "", "```"]
    out += s[f"app_miss@{sizes[-1]}"]["statements"] + ["```", ""]
    return out


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
        *stamp(r),
        f"{c['rounds']} alternating rounds of {c['orders_per_round']:,} orders per side after a "
        f"{c['warmup']}-order warm-up; {c['concurrency']} requests in flight; {c['members_per_side']} members "
        f"per side; 2 lines per order; pool max {c['pool_max']} connections on every side.",
        "",
        "| side | orders/s | p50 ms | p99 ms | orders/s per round |",
        "|---|---:|---:|---:|---|",
    ]
    for name, x in rows:
        out.append(f"| {name} | {fmt_rate(x)} | {x['p50_ms']} | {x['p99_ms']} | {rounds(x)} |")
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
            "Plan of the tier-window query on `orders`:", "", "```"] + r["tier_check_plan"] + ["```", ""]
    return out


def dashboard_md(r: dict[str, Any]) -> list[str]:
    t, s, f, c = r["throughput"], r["statements"], r["fixed_rate"], r["config"]
    ratio = r["ratio_vs_ref"]
    out = [
        "## P3: member dashboard (`bench/dashboard.py`)",
        "",
        *stamp(r),
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
        out.append(f"| {label} | {fmt_rate(x)} | {x['p50_ms']} | {x['p99_ms']} | {rounds(x)} |")
    fa, fr, fl = f["app"], f["ref"], f["app_low"]
    out += [
        "",
        f"- **ratio app ÷ reference (tortoise .values()) = {ratio}** (target ≥ 0.7: {verdict(ratio >= 0.7)})",
        f"- ratio app ÷ reference (raw asyncpg) = {r['ratio_vs_ref_asyncpg']}",
        f"- **p99 at a fixed {fa['rate']:.0f} req/s ({fa['seconds']:.0f} s, open loop): app {fa['p99_ms']} ms** "
        f"(p50 {fa['p50_ms']}, max {fa['max_ms']}; target ≤ 50 ms: {verdict(fa['p99_ms'] <= 50)}); "
        f"reference {fr['p99_ms']} ms (p50 {fr['p50_ms']}). The {fa['requests']} requests due within "
        f"{fa['seconds']:.0f} s were all answered after {fa['drained_seconds']} s (app) and "
        f"{fr['drained_seconds']} s (reference)",
        f"- p99 at half that rate, {fl['rate']:.0f} req/s: app {fl['p99_ms']} ms (p50 {fl['p50_ms']}, "
        f"max {fl['max_ms']})",
        "- note: P3 also lists 10 recommendations; the schema has none yet, so they are not in the query.",
        *(f"- {note}" for note in r.get("notes", [])),
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


def redeem_md(r: dict[str, Any]) -> list[str]:
    t, s, c = r["throughput"], r["statements"], r["config"]
    so, rp = r["stock_out"], r["replays"]
    out = [
        "## redeemReward on PostgreSQL (`bench/redeem.py`)",
        "",
        *stamp(r),
        f"{c['rounds']} alternating rounds of {c['redeems_per_round']:,} redeems per side after a {c['warmup']}-redeem "
        f"warm-up; {c['concurrency']} in flight; {c['members_per_side']} members per side, each funded with two "
        f"`adjustPoints` credits ({' + '.join(map(str, c['credits_per_member']))} points: two lots); one reward per "
        f"side (FIXED_AMOUNT, {c['cost']} points, stock {c['stock']:,}), so every redeem of a side takes the same "
        "reward row lock, as a popular reward does.",
        "",
        "| side | redeems/s | p50 ms | p99 ms | redeems/s per round |",
        "|---|---:|---:|---:|---|",
        f"| app: GraphQL `redeemReward` via uvicorn (storefront key + memberExternalId) | {fmt_rate(t['app'])} | "
        f"{t['app']['p50_ms']} | {t['app']['p99_ms']} | {rounds(t['app'])} |",
        f"| reference: one asyncpg transaction behind a Starlette endpoint (same body) | {fmt_rate(t['ref'])} | "
        f"{t['ref']['p50_ms']} | {t['ref']['p99_ms']} | {rounds(t['ref'])} |",
        "",
        f"- ratio app ÷ reference = **{r['ratio_vs_ref']}** (no target in TARGETS.md; for comparison with P4's 0.6)",
        f"- **drift: {r['drifting_members']} members** with `points_balance ≠ sum(ledger_entries.amount)` "
        f"({verdict(r['drifting_members'] == 0)}), {r['negative_balances']} negative balances, "
        f"{r['lots_drift']} members whose unconsumed lots (`sum(remaining)`) differ from the balance",
        f"- **stock: reward stock + issued (not cancelled) redemptions = initial stock for every reward: "
        f"{'yes' if r['stock_ok'] else 'NO'}** ({verdict(r['stock_ok'])}); also one debit entry and one "
        "`reward.redeemed` event per redemption:",
        "",
        "| reward | initial | stock | issued | debit entries | reward.redeemed events |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for x in r["stock"]:
        out.append(f"| {x['name']} | {x['initial']:,} | {x['stock']:,} | {x['issued']:,} | {x['debits']:,} | "
                   f"{x['reward_events']:,} |")
    out += [
        "",
        f"- stock-out: {so['attempts']} members redeem a {so['stock']}-unit reward at once (32 in flight): "
        f"{so['outcomes']} ({verdict(so['ok'])}: exactly {so['stock']} issued, no oversell)",
        f"- replays: {rp['sent']} requests reusing 20 spent idempotency keys (5 each, concurrently): "
        f"{rp['new_redemptions']} new redemptions ({verdict(rp['new_redemptions'] == 0)})",
        "",
        "SQL per redeem (counted in-process over 20 redeems, see README):",
        "",
        "| | total round trips | queries | BEGIN/COMMIT | pool resets |",
        "|---|---:|---:|---:|---:|",
        f"| app | {s['app']['total']} | {s['app']['queries']} | {s['app']['tx_control']} | {s['app']['pool_resets']} |",
        f"| reference | {s['ref']['total']} | {s['ref']['queries']} | {s['ref']['tx_control']} | "
        f"{s['ref']['pool_resets']} |",
        "",
        "The app's statements for one redeem:",
        "",
        "```",
        *s["app_sample"],
        "```",
        "",
    ]
    return out


def webhooks_md(r: dict[str, Any]) -> list[str]:
    c, st = r["config"], r["statements"]
    res = r["results"]
    best = max(x["backlog"]["per_second"] or 0 for x in res.values())
    out = [
        "## P7: webhook delivery (`bench/webhooks.py`)",
        "",
        *stamp(r),
        "One endpoint (`createWebhookEndpoint`, `member.*`) pointing at a local receiver (a bare asyncio HTTP "
        "server answering 200 at once and verifying every Standard Webhooks signature); `python server.py worker` "
        "processes against PostgreSQL, the API with `PATRON_INPROCESS_JOBS=0`, all with "
        "`PATRON_WEBHOOK_ALLOWED_HOSTS=127.0.0.1`; "
        f"PATRON_WEBHOOK_BATCH {c['batch']}, PATRON_WEBHOOK_POLL_MS {c['poll_ms']}. Latency = arrival at the "
        "receiver − the event's `created_at` (the envelope's `createdAt`).",
        "",
        f"- backlog: {c['backlog']:,} `member.created` events with their delivery rows inserted in one SQL statement "
        "while no worker runs; then the workers start; rate from the first to the last arrival",
        f"- fixed rate: events + delivery rows inserted in SQL every 20 ms at {c['rates'].replace(',', ' and ')} "
        "events/s for "
        f"{c['seconds']:g} s each, workers running",
        f"- via API: `upsertMember` through GraphQL, 8 in flight, for {c['seconds']:g} s (the app writes and fans out "
        "the events itself; the API and the workers share the 2 cores)",
        "",
        "| workers | backlog drain deliveries/s | worker CPU ms per delivery | phase | events/s offered | "
        "p50 ms | p99 ms | max ms | arrived |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    p99s = []
    for n, x in res.items():
        b = x["backlog"]
        first = True
        phases = [(f"fixed {k}/s", v, v["offered_per_second"]) for k, v in x["rates"].items()]
        phases.append(("via API", x["api"], x["api"]["events_per_second"]))
        for name, v, offered in phases:
            lead = (f"| {n} | {b['per_second']} | {b['worker_cpu_ms_per_delivery']} |" if first else "| | | |")
            first = False
            out.append(f"{lead} {name} | {offered} | {v['p50_ms']} | {v['p99_ms']} | {v['max_ms']} | "
                       f"{v['distinct']}/{v['events']} |")
            p99s.append((n, name, offered, v["p99_ms"]))
    dup = sum(x[p]["duplicates"] for x in res.values() for p in ("backlog", "api")) + sum(
        v["duplicates"] for x in res.values() for v in x["rates"].values())
    bad = sum(x[p]["bad_signatures"] for x in res.values() for p in ("backlog", "api")) + sum(
        v["bad_signatures"] for x in res.values() for v in x["rates"].values())
    ok_p99 = [f"{n} worker(s) {name} ({offered}/s)" for n, name, offered, p in p99s if p <= 1000]
    statuses = ", ".join(f"{k} {v['n']:,} (max attempts {v['max_attempts']})" for k, v in r["deliveries_by_status"].items())
    out += [
        "",
        f"- **deliveries/s: best backlog drain {best}/s** (target ≥ 500/s: {verdict(best >= 500)})",
        f"- **event → delivery p99 ≤ 1 s** held for: {', '.join(ok_p99) or 'none'}; not for the others "
        "(target p99 ≤ 1 s at ≥ 500/s: "
        + verdict(any(p <= 1000 and offered >= 450 for _, _, offered, p in p99s)) + ")",
        f"- delivery rows at the end: {statuses}; events received twice: {dup}; bad signatures: {bad}",
        f"- SQL per delivery (the delivery loop run in-process over {st['deliveries']} due rows): "
        f"{st['total']} round trips = {st['queries']} queries + {st['tx_control']} BEGIN/COMMIT + "
        f"{st['pool_resets']} pool resets",
        "",
        "Distinct statements of the delivery loop:",
        "",
        "```",
        *st["distinct_statements"],
        "```",
        "",
    ]
    return out


def subscriptions_md(r: dict[str, Any]) -> list[str]:
    c = r["config"]
    out = [
        "## P8: subscription fan-out, 2 API processes via Redis (`bench/subscriptions.py`)",
        "",
        *stamp(r),
        f"{c['sockets']:,} websockets (graphql-transport-ws; no compression, no client pings), half on each of two "
        f"uvicorn processes with `REDIS_URL={c['redis']}`"
        + (" (a private `redis-server` started for the run)" if c.get("redis_private") else "")
        + ", each authenticated in `connection_init` with the admin "
        f"key and subscribed to `{c['subscription']}`; opened and subscribed in {r['open_seconds']} s; "
        f"{r['probe']['probes']} probe event(s) until every socket received one ({r['probe']['not_receiving']} "
        "never did). Events: `upsertMember` mutations sent to process A on a fixed schedule (one `member.created` "
        "event each; at most 32 in flight, so when A is saturated the achieved rate falls below the schedule). "
        "Latency of every (socket, event) pair from the moment the mutation was sent.",
        "",
        "| events/s scheduled | events/s achieved | events | pairs expected | missing | p50 ms | p99 ms | max ms | "
        "p99 on A / B ms | "
        "from created_at p99 ms | mutation p50 ms | messages/s | server CPU s (A, B) | server CPU ms per message | "
        "client CPU s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for s in r["stages"]:
        f = s["from_send"]
        per = " / ".join(str(v["p99_ms"]) for v in s["per_server_from_send"].values())
        cpu = ", ".join(str(v) for v in s["server_cpu_seconds"].values())
        out.append(f"| {s['rate']:g} | {s['offered_per_second']} | {s['events']} | {s['deliveries_expected']:,} | "
                   f"{s['missing']} | "
                   f"{f['p50_ms']} | {f['p99_ms']} | {f['max_ms']} | {per} | {s['from_created_at']['p99_ms']} | "
                   f"{s['mutation_p50_ms']} | {s['messages_per_second']:,.0f} | {cpu} | {s.get('server_cpu_ms_per_message', '?')} | "
                   f"{s['client_cpu_seconds']} |")
    met = [s for s in r["stages"] if s["from_send"]["p99_ms"] <= 500 and s["missing"] == 0]
    out += [
        "",
        f"- **publish → receive p99 ≤ 500 ms over {c['sockets']:,} sockets** at: "
        + (", ".join(f"{s['offered_per_second']} events/s" for s in met) or "none of the rates measured")
        + "; not at: " + (", ".join(f"{s['offered_per_second']} events/s (p99 {s['from_send']['p99_ms']} ms)"
                                    for s in r["stages"] if s not in met) or "-")
        + f" (target ≤ 500 ms: {verdict(bool(met))} at the lowest rate"
        + (", " + verdict(len(met) == len(r["stages"])) + " at every rate)" if len(r["stages"]) > 1 else ")"),
        f"- socket errors: {r['socket_errors']}; messages of other Redis users on the shared channel ignored: "
        f"{r['foreign_messages_ignored']}",
        "",
    ]
    return out


# name, script, renderer, target ids
BENCHMARKS: list[tuple[str, str, Callable[[dict[str, Any]], list[str]]]] = [
    ("product_page", "bench/product_page.py", product_page_md),
    ("dashboard", "bench/dashboard.py", dashboard_md),
    ("record_order", "bench/record_order.py", record_order_md),
    ("redeem", "bench/redeem.py", redeem_md),
    ("webhooks", "bench/webhooks.py", webhooks_md),
    ("subscriptions", "bench/subscriptions.py", subscriptions_md),
]


def summary_rows(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = ["| target | measured | figure | target | verdict |", "|---|---|---|---|---|"]

    def add(tid: str, name: str, figure: str, target: str, ok: bool) -> None:
        when = results[name]["meta"]["date"] if name in results else "-"
        rows.append(f"| {tid} | {when} | {figure} | {target} | {verdict(ok)} |")

    if "product_page" in results:
        r = results["product_page"]
        n = str(r["config"]["sizes"][0])
        q = r["ratios"][n]
        add("P1 (cached)", "product_page", f"{q['app_cached']} × hand-written (first: {n})", "≥ 1.0", q["app_cached"] >= 1)
        add("P1 (uncached)", "product_page", f"{q['app_miss']} × hand-written (first: {n})", "≥ 1.0", q["app_miss"] >= 1)
        worst = max(v["queries"] for k, v in r["statements"].items() if k.startswith("app"))
        add("P2", "product_page", f"≤ {worst:g} queries per request, every size and path", "≤ 4", worst <= 4)
    if "dashboard" in results:
        r = results["dashboard"]
        add("P3 ratio", "dashboard", f"{r['ratio_vs_ref']} × hand-written", "≥ 0.7", r["ratio_vs_ref"] >= 0.7)
        p99 = r["fixed_rate"]["app"]["p99_ms"]
        add("P3 p99", "dashboard", f"{p99} ms at {r['fixed_rate']['app']['rate']:.0f} req/s", "≤ 50 ms", p99 <= 50)
    if "record_order" in results:
        r = results["record_order"]
        add("P4", "record_order", f"{r['ratio_vs_ref_http']} × hand-written, drift {r['drifting_members']}",
            "≥ 0.6, 0 drift", r["ratio_vs_ref_http"] >= 0.6 and r["drifting_members"] == 0)
    if "redeem" in results:
        r = results["redeem"]
        add("redeem drift", "redeem", f"{r['throughput']['app']['per_second']:,.0f} redeems/s "
            f"({r['ratio_vs_ref']} × hand-written); drift {r['drifting_members']}; stock "
            f"{'consistent' if r['stock_ok'] else 'INCONSISTENT'}", "0 drift, stock consistent",
            r["drifting_members"] == 0 and r["stock_ok"] and r["negative_balances"] == 0)
    if "webhooks" in results:
        r = results["webhooks"]
        best = max(x["backlog"]["per_second"] or 0 for x in r["results"].values())
        add("P7 rate", "webhooks", f"{best} deliveries/s (best backlog drain)", "≥ 500/s", best >= 500)
        rates = sorted({k for x in r["results"].values() for k in x["rates"]}, key=float)
        for rate in rates:
            n, v = min(((n, x["rates"][rate]) for n, x in r["results"].items() if rate in x["rates"]),
                       key=lambda nv: nv[1]["p99_ms"])
            add("P7 p99", "webhooks", f"{v['p99_ms']} ms at {v['offered_per_second']}/s offered ({n} worker(s), "
                "the better count)", "≤ 1 s (at ≥ 500/s)", v["p99_ms"] <= 1000)
    if "subscriptions" in results:
        r = results["subscriptions"]
        for s in r["stages"]:
            add("P8", "subscriptions", f"p99 {s['from_send']['p99_ms']} ms at {s['rate']:g} events/s scheduled "
                f"({s['offered_per_second']} achieved) × {r['config']['sockets']:,} sockets, {s['missing']} missing",
                "≤ 500 ms",
                s["from_send"]["p99_ms"] <= 500 and s["missing"] == 0)
    return rows


def render(results: dict[str, dict[str, Any]], m: dict[str, str], errors: list[str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_all.py` from `bench/results/*.json`; do not edit by hand. How each figure is made: "
        "`bench/README.md`. Every section says when and how it was measured (`--only` reruns only some).",
        "",
        f"- machine: nproc {m['nproc']}, {m['cpu']}; Python {m['python']}; PostgreSQL {m['postgres']}; {m['platform']}",
        "- other work on the machine shows up in the load averages (ratios are measured in the same run, in "
        "alternating rounds, to absorb it)",
        "- servers: `uvicorn --factory server:create_app --workers 1 --no-access-log --log-level warning` "
        "(env DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_bench, PATRON_BOOTSTRAP_ADMIN_KEY, "
        "PATRON_INPROCESS_JOBS=0, PATRON_MEMBER_JWT_SECRET, PATRON_SECRET_KEY, PATRON_RATE_LIMIT_KEY/MEMBER/ANONYMOUS=0; "
        "no REDIS_URL except P8) and the same flags for `bench.reference_app:create_app`; load from a lean Python "
        "HTTP/1.1 client on loopback",
        "",
    ]
    if errors:
        lines += ["**Failures in the last run:** " + "; ".join(errors), ""]
    lines += ["## Summary", "", *summary_rows(results), ""]
    for name, _, md in BENCHMARKS:
        if name in results:
            try:
                lines += md(results[name])
            except (KeyError, TypeError, ValueError) as exc:  # an old result file of another shape
                lines += [f"## {name}", "", f"(stored result could not be rendered: {exc!r})", ""]
    scale = RESULTS / "scale.md"  # written by bench/scale.py --markdown (a separate, long run)
    if scale.exists():
        lines += [scale.read_text().rstrip("\n"), ""]
    model = RESULTS / "member_insights_model.md"  # written by bench/member_insights_model.py --markdown
    if model.exists():
        lines += [model.read_text().rstrip("\n"), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", help="measure this revision (git archive) instead of the working tree")
    parser.add_argument("--only", help="comma-separated benchmark names (see --list)")
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    parser.add_argument("--render", action="store_true", help="only rewrite RESULTS.md from bench/results/")
    args = parser.parse_args()
    names = [n for n, _, _ in BENCHMARKS]
    if args.list:
        print("\n".join(names))
        return
    chosen = names if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {names}")
    RESULTS.mkdir(exist_ok=True)
    errors: list[str] = []
    env = dict(os.environ)
    t0 = time.monotonic()
    if not args.render:
        with tempfile.TemporaryDirectory() as tmp:
            if args.commit:
                app_dir = Path(tmp) / "app"
                app_dir.mkdir()
                sha = export(args.commit, app_dir)
                env["PATRON_BENCH_APP_DIR"] = str(app_dir)
                code = f"commit {sha[:7]} exported with `git archive` (uncommitted changes not measured)"
            else:
                env.pop("PATRON_BENCH_APP_DIR", None)
                dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
                         if not line[3:].startswith("bench/")]
                code = f"working tree at commit {git('rev-parse', '--short', 'HEAD')}" + (
                    f" plus uncommitted changes in {len(dirty)} file(s) outside bench/" if dirty else "")
            command = COMMAND + (f" --commit {args.commit}" if args.commit else "") + (
                f" --only {','.join(chosen)}" if args.only else "")
            for name in chosen:
                script = dict((n, s) for n, s, _ in BENCHMARKS)[name]
                before = machine()
                log(f"running {script}")
                data, took, stdout = run_one(script, Path(tmp) / f"{name}.json", env)
                print(stdout, end="", flush=True)
                if data is None:
                    errors.append(f"{script} failed (see its output); RESULTS.md keeps its previous figures")
                    continue
                after = machine()
                data["meta"] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), "code": code,
                                "command": command, "script": script, "took_seconds": round(took, 1),
                                "load_before": before["loadavg"], "load_after": after["loadavg"],
                                "busiest_before": before["busiest"], "machine": {
                                    k: before[k] for k in ("nproc", "cpu", "python", "postgres", "platform")}}
                (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    results = {}
    for name in names:
        f = RESULTS / f"{name}.json"
        if f.exists():
            results[name] = json.loads(f.read_text())
    (BENCH / "RESULTS.md").write_text(render(results, machine(), errors))
    log(f"wrote bench/RESULTS.md ({time.monotonic() - t0:.0f} s)")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
