"""Turn a run's raw figures into the markdown tables (and the target check) of ``bench/RESULTS.md``."""

from __future__ import annotations

import statistics
from typing import Any

from bench.http_load import WORKLOADS

START, END = "<!-- bench:generated:start -->", "<!-- bench:generated:end -->"


def fnum(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def med(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def workload_stats(rounds: list[dict[str, Any]], name: str, key: str) -> float | None:
    return med([(r.get(name) or {}).get(key) for r in rounds])


def ratio_stats(rounds: list[dict[str, Any]], name: str, other: str, key: str = "rps") -> tuple[float | None, list]:
    """Median over rounds of ``name / other`` for ``key``, each ratio from one round."""
    per_round = []
    for r in rounds:
        a, b = (r.get(name) or {}).get(key), (r.get(other) or {}).get(key)
        per_round.append(a / b if a and b else None)
    return med(per_round), per_round


def http_figures(http: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per workload and row: medians over rounds, and ratios against the row's baseline and Prism."""
    out: dict[str, dict[str, Any]] = {}
    rows = http.get("rows", {})
    for workload, rounds in (http.get("workloads") or {}).items():
        table = out[workload] = {}
        for name, info in rows.items():
            if not any(name in r for r in rounds):
                continue
            fig: dict[str, Any] = {key: workload_stats(rounds, name, key)
                                   for key in ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_req")}
            fig["non2xx"] = sum((r.get(name) or {}).get("non2xx") or 0 for r in rounds)
            fig["socket_errors"] = sum((r.get(name) or {}).get("socket_errors") or 0 for r in rounds)
            fig["imbalanced"] = sum(1 for r in rounds if (r.get(name) or {}).get("imbalanced"))
            fig["rps_all"] = [(r.get(name) or {}).get("rps") for r in rounds]
            base = info.get("baseline")
            if base and base in rows:
                fig["vs_baseline"], fig["vs_baseline_all"] = ratio_stats(rounds, name, base)
                cpu, _ = ratio_stats(rounds, base, name, "server_cpu_us_per_req")
                fig["cpu_vs_baseline"] = cpu  # baseline CPU / our CPU: same sense as the req/s ratio
            if "prism" in rows and name != "prism":
                fig["vs_prism"], _ = ratio_stats(rounds, name, "prism")
            table[name] = fig
    return out


def targets(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(target, figure, verdict, detail)`` for every target of the issue."""
    http = doc.get("http") or {}
    rows = http.get("rows", {})
    figs = http_figures(http)
    out: list[tuple[str, str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else "met" if ok else "**missed**"

    def ratio_target(label: str, value: float | None, goal: float, detail: str = "") -> None:
        if value is None:
            out.append((label, "-", "n/a", detail or "row not measured"))
            return
        miss = "" if value >= goal else f"short by {(goal - value) / goal * 100:.0f}% ({value:.2f}x vs {goal}x)"
        out.append((label, f"{value:.2f}x", verdict(value >= goal), "; ".join(x for x in (miss, detail) if x)))

    def limit_target(label: str, value: float | None, limit: float, unit: str, detail: str = "") -> None:
        if value is None:
            out.append((label, "-", "n/a", detail or "not measured"))
            return
        miss = "" if value <= limit else f"over by {value - limit:,.1f} {unit} ({value / limit:.2f}x the limit)"
        out.append((label, f"{value:,.2f} {unit}", verdict(value <= limit), "; ".join(x for x in (miss, detail) if x)))

    get, mf = figs.get("get", {}), figs.get("meme_face", {})

    def same_round(workload: str, name: str, other: str) -> float | None:
        rounds = (http.get("workloads") or {}).get(workload) or []
        return ratio_stats(rounds, name, other)[0] if name in rows and other in rows else None

    for name in ("mock", "mock-fastest"):
        if name not in get:
            continue
        g = get[name]
        ratio_target(f"GET jobs >= 3x Prism ({name})", g.get("vs_prism"), 3.0)
        ratio_target(f"GET jobs >= 2x bare Flask on the former gunicorn settings ({name} vs flask-gunicorn)",
                     same_round("get", name, "flask-gunicorn"), 2.0)
        cpu = g.get("cpu_vs_baseline")
        ratio_target(f"GET jobs >= 0.8x bare Flask on the same server ({name} vs flask)", g.get("vs_baseline"), 0.8,
                     f"CPU/request ratio {cpu:.2f}x" if cpu else "")
    for name in ("mock", "mock-fastest"):
        if name not in mf:
            continue
        ratio_target(f"meme_face >= 2x the mock on gunicorn (the current app on the former server; "
                     f"{name} vs mock-gunicorn)", same_round("meme_face", name, "mock-gunicorn"), 2.0)
        cpu = mf[name].get("cpu_vs_baseline")
        ratio_target(f"meme_face >= 0.7x bare Flask, same multipart, same server ({name} vs flask)",
                     mf[name].get("vs_baseline"), 0.7, f"CPU/request ratio {cpu:.2f}x" if cpu else "")
    for workload, table, limit in (("GET jobs", get, 10.0), ("meme_face", mf, 25.0)):
        for name in ("mock", "mock-fastest"):
            if name in table:
                limit_target(f"{workload} p99 at 16 connections ({name})", table[name].get("p99_ms"), limit, "ms",
                             f"p50 {fnum(table[name].get('p50_ms'), 2)} ms at {fnum(table[name].get('rps'))} req/s")
    for workload, table in (("get", get), ("meme_face", mf)):
        if "mock" in table and "mock-fastest" in table:
            ratio_target(f"{workload}: default `serve` >= 0.9x the fastest documented configuration",
                         same_round(workload, "mock", "mock-fastest"), 0.9)
    for name in rows:
        slow = (rows.get(name) or {}).get("slow_clients")
        if slow:
            label = f"GET jobs p99 with 64 stalled heads, 64 stalled bodies, 64 idle connections ({name})"
            answered = f"answered {slow['answered']} of {slow['tried']} (2 s each)"
            if slow["answered"] < slow["tried"] or slow.get("p99_ms") is None:
                out.append((label, answered, "**missed**", "starved: requests timed out"))
            else:
                limit_target(label, slow["p99_ms"], 50.0, "ms", answered)
    wm = (rows.get("wiremock") or {}).get("startup_ms")
    for name in ("mock", "mock-fastest"):
        start = (rows.get(name) or {}).get("startup_ms")
        if start is not None:
            limit_target(f"startup to first answer ({name})", start, 250.0, "ms",
                         f"bare Flask same server: {fnum((rows.get('flask') or {}).get('startup_ms'))} ms; "
                         f"mock on gunicorn: {fnum((rows.get('mock-gunicorn') or {}).get('startup_ms'))} ms")
            if wm:
                value = start / wm
                out.append((f"startup < 0.4x WireMock ({name})", f"{value:.2f}x ({fnum(start)} / {fnum(wm)} ms)",
                            verdict(value < 0.4), "" if value < 0.4 else f"over by {(value - 0.4) / 0.4 * 100:.0f}%"))
    for name in ("mock", "mock-fastest"):
        reset = (rows.get(name) or {}).get("reset") or {}
        if reset.get("p50_ms") is not None:
            limit_target(f"reset over HTTP, POST /__mock/reset p50 ({name})", reset["p50_ms"], 5.0, "ms",
                         f"p99 {reset.get('p99_ms')} ms")
            jobs = ((rows.get(name) or {}).get("health") or {}).get("jobs")
            limit_target(f"reset over HTTP, the first one after the load ({fnum(jobs)} jobs + journal, {name})",
                         reset.get("first_ms"), 5.0, "ms")
    reset = doc.get("reset") or {}
    if "p50_ms" in reset:
        limit_target("reset in-process, mock_of(app).reset() p50 (after a test's worth of state)", reset["p50_ms"],
                     5.0, "ms", f"p99 {reset.get('p99_ms')} ms")
        limit_target("reset in-process with 10,000 stored jobs", reset.get("with_10k_jobs_ms"), 5.0, "ms")
    life = doc.get("lifecycle") or {}
    if "total" in life:
        limit_target("in-process lifecycle, create_app to callback delivered, p50", life["total"]["p50_ms"], 20.0,
                     "ms", f"on an app already up (reset, submit, advance, callback): "
                           f"{life.get('warm_total', {}).get('p50_ms')} ms")
    scale = doc.get("scale") or {}
    levels = {lv["jobs"]: lv for lv in scale.get("levels", [])}
    if 10_000 in levels:
        limit_target("memory with 10,000 jobs (whole process RSS)", levels[10_000]["rss_mb"], 100.0, "MB")
    if levels:
        top = levels[max(levels)]
        limit_target(f"bytes per stored job (memory store, {max(levels):,} jobs)",
                     top["growth_bytes_per_job"] / 1024, 2.0, "KB")
    if levels and len(levels) > 1:
        top_n, low_n = max(levels), min(levels)
        top, low = levels[top_n], levels[low_n]
        if "get_vs_small" in top:
            limit_target(f"GET p50 with {top_n:,} jobs / with {low_n:,} (same sitting, lookups interleaved)",
                         top["get_vs_small"], 1.2, "x",
                         f"{top['get_p50_us']} us vs {top['small_get_p50_us']} us; measured at different moments: "
                         f"{top['get_p50_us']} vs {low['get_p50_us']} us")
        value = top["admit_p50_us"] / low["admit_p50_us"]
        limit_target(f"admission p50 with {top_n:,} jobs / with {low_n:,} (must not grow)", value, 1.2, "x",
                     f"{top['admit_p50_us']} us vs {low['admit_p50_us']} us")
    contract = doc.get("contract") or {}
    if contract:
        if contract.get("ok"):
            out.append((f"contract suite, {contract.get('examples')} examples (no target)",
                        f"{contract.get('suite_s')} s", "ran", ""))
        else:
            out.append((f"contract suite, {contract.get('examples')} examples (no target)", "-", "**failed**",
                        str(contract.get("error"))[:300].replace("|", "/").replace("\n", " ")))
    return out


def render(doc: dict[str, Any]) -> str:
    lines = [START, "", f"Command: `{doc['command']}`  ", f"Run: {doc['started']} - {doc['finished']} "
             f"({doc['elapsed_s'] / 60:.1f} min), load average before/after: {doc['loadavg_before']} / "
             f"{doc['loadavg_after']}  "]
    opts = doc["options"]
    lines.append(f"Settings: {opts['rounds']} round(s) per workload, `wrk -t{opts['threads']} -c{opts['conns']} "
                 f"-d{opts['duration']}s --latency` after a {opts['warmup']} s warm-up per row and workload "
                 f"(+{opts['jit_warmup']} s for the JITs of WireMock and Prism, first workload), "
                 f"startup = median of {opts['startup_reps']}.  ")
    http = doc.get("http") or {}
    versions = http.get("versions") or {}
    if versions:
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")
    lines += ["## Targets", "", "| target | figure | verdict | detail |", "|---|---:|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(doc)]
    lines.append("")
    rows = http.get("rows", {})
    if http.get("skipped"):
        lines.append("Skipped rows: " + "; ".join(f"{k}: {v}" for k, v in http["skipped"].items()) + "\n")
    if rows:
        lines += ["## HTTP rows", "", "| row | what | startup ms (median; all) | GET body bytes | RSS after load MB "
                  "| jobs stored after load |", "|---|---|---:|---:|---:|---:|"]
        for name, info in rows.items():
            jobs = (info.get("health") or {}).get("jobs")
            lines.append(f"| {name} | {info.get('note', '')} | {fnum(info.get('startup_ms'))} "
                         f"({', '.join(fnum(x) for x in info.get('startup_ms_all', []))}) | "
                         f"{fnum(info.get('get_bytes'))} | {fnum(info.get('peak_rss_mb'), 1)} | {fnum(jobs)} |"
                         + (f" ERROR: {info['error'][:120]}" if info.get("error") else ""))
        lines.append("")
        figs = http_figures(http)
        for workload in WORKLOADS:
            if workload not in figs:
                continue
            lines += [f"### {workload}", "", "| row | req/s (median; per round) | p50 ms | p99 ms | server CPU us/req "
                      "| req/s vs baseline (median of per-round ratios) | CPU vs baseline | req/s vs Prism | flags |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
            for name, f in figs[workload].items():
                flags = []
                if f["non2xx"]:
                    flags.append(f"non-2xx {f['non2xx']}")
                if f["socket_errors"]:
                    flags.append(f"socket errors {f['socket_errors']}")
                if f["imbalanced"]:
                    flags.append(f"all load on 1 worker in {f['imbalanced']} round(s)")
                base = rows[name].get("baseline")
                vs_base = (f"{f['vs_baseline']:.2f}x vs {base} ("
                           + ", ".join(f"{x:.2f}" if x else "-" for x in f.get("vs_baseline_all", [])) + ")"
                           if f.get("vs_baseline") else "-")
                lines.append(
                    f"| {name} | {fnum(f['rps'])} ({', '.join(fnum(x) for x in f['rps_all'])}) | "
                    f"{fnum(f['p50_ms'], 2)} | {fnum(f['p99_ms'], 2)} | {fnum(f['server_cpu_us_per_req'])} | "
                    f"{vs_base} | "
                    f"{fnum(f.get('cpu_vs_baseline'), 2)} | {fnum(f.get('vs_prism'), 2)} | {'; '.join(flags)} |")
            lines.append("")
        resets = [(n, i["reset"]) for n, i in rows.items() if i.get("reset")]
        if resets:
            lines += ["### POST /__mock/reset (after the load, one keep-alive connection)", "",
                      "| row | first (with the load's state) ms | p50 ms | p99 ms | reps |",
                      "|---|---:|---:|---:|---:|"]
            lines += [f"| {n} | {r.get('first_ms')} | {r.get('p50_ms')} | {r.get('p99_ms')} | {r.get('reps')} |"
                      for n, r in resets]
            lines.append("")
    lines += render_inprocess(doc)
    lines.append(END)
    return "\n".join(lines)


def render_inprocess(doc: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    reset = doc.get("reset")
    if reset:
        lines += ["## In-process reset", ""]
        if "error" in reset:
            lines.append(f"ERROR: {reset['error']} {reset.get('stderr', '')[-300:]}\n")
        else:
            lines.append(f"`mock_of(app).reset()` after one submit: p50 {reset['p50_ms']} ms, "
                         f"p99 {reset['p99_ms']} ms ({reset['reps']} reps); with 10,000 jobs of 1,000 tenants: "
                         f"{reset['with_10k_jobs_ms']} ms.\n")
    life = doc.get("lifecycle")
    if life:
        lines += ["## In-process lifecycle (manual clock, callback to a local receiver)", ""]
        if "error" in life:
            lines.append(f"ERROR: {life['error']} {life.get('stderr', '')[-300:]}\n")
        else:
            lines += ["| phase | p50 ms | p90 ms |", "|---|---:|---:|"]
            names = {"create_app": "create_app(MockConfig(clock=\"manual\"))",
                     "submit": "submit meme_face (test client)",
                     "advance": "advance(3)", "callback": "wait_for(\"callbacks\") until delivered",
                     "total": "**total**", "warm_total": "on an app already up: reset, submit, advance, callback"}
            lines += [f"| {names[k]} | {life[k]['p50_ms']} | {life[k]['p90_ms']} |" for k in names if k in life]
            if life.get("failures"):
                lines.append(f"\nUndelivered callbacks: {life['failures']}")
            lines.append(f"\n{life.get('reps')} lifecycles after 2 warm-up ones.\n")
    scale = doc.get("scale")
    if scale:
        lines += ["## Scale (memory store, one tenant and channel holding every job)", ""]
        if "error" in scale:
            lines.append(f"ERROR: {scale['error']} {scale.get('stderr', '')[-300:]}\n")
        else:
            lines += ["| stored jobs | process RSS MB | RSS growth B/job (marginal) | service.get_job p50 / p99 us | "
                      f"p50 vs the {scale.get('small_jobs', 1000):,}-job store, same sitting | "
                      "store.admit p50 / p99 us | first admit after the bulk insert us | insert s |",
                      "|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for lv in scale["levels"]:
                lines.append(f"| {lv['jobs']:,} | {lv['rss_mb']} | {lv['growth_bytes_per_job']:,} "
                             f"({fnum(lv.get('marginal_bytes_per_job'))}) | {lv['get_p50_us']} / {lv['get_p99_us']} | "
                             f"{lv.get('get_vs_small', '-')}x ({lv.get('small_get_p50_us', '-')} us) | "
                             f"{lv['admit_p50_us']} / {lv['admit_p99_us']} | {fnum(lv['admit_first_us'])} | "
                             f"{lv['insert_s']} |")
            lines.append(f"\nRSS before any job: {scale['base_rss_mb']} MB (interpreter, Flask, one app). "
                         f"{scale['lookups']:,} random lookups and {scale['admits']:,} admissions (limit 10) "
                         "per size.\n")
    contract = doc.get("contract")
    if contract:
        lines += ["## Contract suite", ""]
        if contract.get("ok"):
            lines.append(f"`check_client(handle, ReferenceClient.make, max_examples={contract['examples']})` on a "
                         f"`ThreadedMockServer` (manual clock): {contract['suite_s']} s "
                         f"({contract['wall_s']} s with imports and server start).\n")
        else:
            lines.append(f"`check_client(..., max_examples={contract.get('examples')})` **failed** after "
                         f"{contract.get('wall_s')} s: `{str(contract.get('error'))[:600]}`\n")
    return lines


def merge(existing: str, generated: str) -> str:
    """Replace the generated part of ``RESULTS.md``, keeping what was written around it by hand."""
    if START in existing and END in existing:
        head, _, rest = existing.partition(START)
        _, _, tail = rest.partition(END)
        return head + generated + tail
    return (existing.rstrip() + "\n\n" if existing.strip() else "# Benchmark results\n\n") + generated + "\n"
