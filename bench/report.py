"""The benchmark's results: a JSON file, a PNG plot of latency, throughput and queues over time,
a Markdown table, and the machine they came from."""

import json
import math
import os
import platform
import subprocess
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import psutil  # noqa: E402

from bench import measures, stack  # noqa: E402

DOCS = stack.ROOT / "docs" / "benchmarks.md"
RELIABILITY_DOCS = DOCS.parent / "reliability.md"


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    postgres = subprocess.run(
        [f"{os.environ['PG_BIN']}/postgres", "--version"], capture_output=True, text=True
    )
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": _os_name(),
        "python": platform.python_version(),
        "postgresql": postgres.stdout.split()[2] if postgres.returncode == 0 else "?",
        "kafka": _kafka_version(),
        "web_workers": {s: int(os.environ.get(f"{s.upper()}_WEB_WORKERS", "0")) for s in stack.SERVICES},
    }


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def _kafka_version() -> str:
    jars = sorted(Path(os.environ["VAR"], "kafka", "libs").glob("kafka-clients-*.jar"))
    return jars[-1].stem.removeprefix("kafka-clients-") if jars else "?"


def save_json(result: dict, path: Path) -> None:
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")


def plot(
    requests: list[measures.Request],
    samples: list[tuple[float, dict]],
    path: Path,
    title: str,
    faults: list[dict] = (),
) -> None:
    """Throughput, placement latency and the pipeline's queues, second by second."""
    if not requests:
        return
    origin = min(r.started for r in requests)
    per_second: dict[int, list[float]] = defaultdict(list)
    accepted: dict[int, int] = defaultdict(int)
    for r in requests:
        if r.name == "place":
            second = int(r.started - origin)
            per_second[second].append(r.latency_ms)
            accepted[second] += r.status == 202
    # A second with no request between stretches (the stack settling) breaks the lines there.
    seconds = sorted(set(per_second) | {s + 1 for s in per_second})
    figure, (rate_axis, latency_axis, queue_axis) = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    figure.suptitle(title)
    rate_axis.plot(
        seconds,
        [accepted[s] if s in per_second else math.nan for s in seconds],
        label="orders accepted / s",
        color="tab:blue",
    )
    rate_axis.set_ylabel("orders / s")
    rate_axis.legend(loc="upper left")
    for fraction, color in ((0.50, "tab:green"), (0.99, "tab:red")):
        latency_axis.plot(
            seconds,
            [measures.percentile(per_second[s], fraction) if s in per_second else math.nan for s in seconds],
            label=f"placement p{int(fraction * 100)} (ms)",
            color=color,
        )
    latency_axis.axhline(300, color="grey", linestyle="--", linewidth=1, label="300 ms target")
    latency_axis.set_ylabel("ms")
    latency_axis.set_yscale("log")
    latency_axis.legend(loc="upper left")
    times = [at - origin for at, values in samples if "error" not in values and at >= origin]
    kept = [values for at, values in samples if "error" not in values and at >= origin]
    queue_axis.plot(times, [measures.total(v, "outbox.") for v in kept], label="outbox backlog (events)")
    queue_axis.plot(times, [measures.total(v, "lag.") for v in kept], label="consumer lag (events)")
    for fault in faults:
        for axis in (rate_axis, latency_axis, queue_axis):
            axis.axvspan(fault["started"] - origin, fault["ended"] - origin, color="tab:orange", alpha=0.15)
        rate_axis.annotate(
            fault["name"], (fault["started"] - origin, 0), rotation=90, fontsize=7, va="bottom"
        )
    queue_axis.set_ylabel("events waiting")
    queue_axis.set_xlabel("seconds since the load began")
    queue_axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Run `{result['run_id']}` ({result['mode']} mode), {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, {m['os']}; Python {m['python']}, PostgreSQL {m['postgresql']}, "
        f"Kafka {m['kafka']}; everything on the one machine.",
        "",
        "| stretch | event workers | offered /s | achieved /s | errors "
        "| placement p50 / p95 / p99 / max (ms) | completion p50 / p99 (s) | max outbox backlog "
        "| max consumer lag | drained after (s) | CPU ms / order | keeps up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for stretch in result["stretches"]:
        p, c = stretch["placement_ms"], stretch["completion_s"]
        lines.append(
            f"| {stretch['label']} | {stretch.get('event_workers', 1)} | {stretch['offered_per_second']:g} "
            f"| {stretch['achieved_per_second']:g} "
            f"| {stretch['errors']} | {p['p50']} / {p['p95']} / {p['p99']} / {p['max']} "
            f"| {c['p50']} / {c['p99']} | {stretch['max_outbox_backlog']} | {stretch['max_consumer_lag']} "
            f"| {stretch.get('drained_after_s')} | {stretch.get('cpu_ms_per_order')} "
            f"| {'yes' if stretch['sustained'] else 'no'} |"
        )
    consistency, best = result["consistency"], result["max_sustained_per_second"]
    postgres, kafka = result["reference"]["postgres"], result["reference"]["kafka"]
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(consistency["by_status"].items()))
    reconciliation = consistency["reconciliation"]
    verdict = "**Consistent.**" if consistency["consistent"] else f"**Problems:** {consistency['problems']}"
    lines += [
        "",
        f"- Maximum sustained rate: **{best:g} orders/s** ({best * 60:,.0f} orders/min).",
        f"- Reference: PostgreSQL alone (pgbench: an order's SQL as the services send it, on copies of "
        f"their tables, every batch of one order) {postgres['orders_per_second']} orders/s; "
        f"Kafka alone (one producer, acks=all) {kafka['records_per_second']:,} records/s. "
        f"The stack's best is {best / postgres['orders_per_second']:.0%} of PostgreSQL's.",
        f"- Settled {consistency['converge_seconds']} s after the load; {consistency['orders']} orders: "
        f"{statuses}; double charges {consistency['double_charges']}, oversold units "
        f"{consistency['oversold_units']}, reconciliation found {reconciliation['found']} and has "
        f"{reconciliation['open_divergences_of_the_run']} open on the run's orders. {verdict}",
        "- CPU ms / order is the system's, the load generator's included; the card gateway simulator, "
        "which stands in for the payment provider on the same cores, took "
        + ", ".join(f"{s.get('gateway_cpu_ms_per_order')} ({s['label']})" for s in result["stretches"])
        + " ms per order besides.",
        "",
        "| stretch | offered /s | system CPU ms / order | load generator | simulator | steal (cores) "
        "| accepted /s in 5 s windows |",
        "|---|---|---|---|---|---|---|",
    ]
    for stretch in result["stretches"]:
        lines.append(
            f"| {stretch['label']} | {stretch['offered_per_second']:g} "
            f"| {stretch.get('system_cpu_ms_per_order')} | {stretch.get('load_cpu_ms_per_order')} "
            f"| {stretch.get('gateway_cpu_ms_per_order')} | {stretch.get('steal_cores')} "
            f"| {' '.join(f'{w:g}' for w in stretch.get('accepted_per_second_5s', []))} |"
        )
    hops = [(s["label"], s["offered_per_second"], s.get("hops_s") or {}) for s in result["stretches"]]
    names = list(next((h for _, _, h in hops if h), {}))
    if names:
        lines += [
            "",
            "The saga hop by hop, p50 / p99 seconds, from the timestamps the services' tables hold "
            "(outbox rows written and published, inbox rows applied):",
            "",
            "| stretch | offered /s | " + " | ".join(names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for label, offered, hop in hops:
            cells = " | ".join(f"{hop.get(n, {}).get('p50')} / {hop.get(n, {}).get('p99')}" for n in names)
            lines.append(f"| {label} | {offered:g} | {cells} |")
    lines.append("")
    lines.pop()
    overload = next((s for s in result["stretches"] if "overload" in s), None)
    if overload:
        lines += ["", overload_markdown(result["run_id"], overload)]
    return "\n".join(lines)


def overload_markdown(run_id: str, stretch: dict) -> str:
    """The overload stretch's figures (bench/overload.py) and what held, as a list."""
    o = stretch["overload"]
    statuses = ", ".join(f"{n} x {s}" for s, n in sorted(o["answers_by_status"].items()))
    held = ", ".join(f"{what}: {'yes' if ok else '**no**'}" for what, ok in o["holds"].items())
    return "\n".join(
        [
            f"Overload (run `{run_id}`): {stretch['offered_per_second']:g} orders/s offered for "
            f"{stretch['seconds']:g} s, {_times_sustained(stretch)}.",
            f"- Answers: {statuses}; refusals with `Retry-After` {o['refusals_with_retry_after']} of "
            f"{o['refusals']}; other errors {o['other_errors']}.",
            f"- Placement p99 over all answers {o['placement_p99_ms']} ms; goodput "
            f"{o['goodput_per_second']:g} accepted orders/s ("
            + (
                f"{o['goodput_share']:.0%} of the maximum sustained"
                if o["goodput_share"]
                else "none sustained"
            )
            + ").",
            f"- Accepted orders' completion p99 {o['completion_p99_s']} s (admission bound "
            f"{o['admission_bound_s']:g} s); failed for `timeout` {o['accepted_failed_for_timeout']}; "
            f"refunded without a cancel {o['refunded_without_cancel']}; divergences on its orders "
            f"{sum(o['divergences_on_its_orders'].values())}"
            f"{' ' + str(o['divergences_on_its_orders']) if o['divergences_on_its_orders'] else ''}; "
            f"queues drained {o['drained_after_s']} s after the load.",
            f"- Held: {held}.",
        ]
    )


def _times_sustained(stretch: dict) -> str:
    best = stretch["overload"].get("max_sustained_per_second")
    if not best:
        return "no rate having been sustained"
    times = stretch["offered_per_second"] / best
    return (
        "twice the maximum sustained rate" if times == 2 else f"{times:.2g} times the maximum sustained rate"
    )


def docs_update(result: dict, plot_path: Path) -> None:
    """Replace the last-run block of docs/benchmarks.md with this run's table and plot, and the
    overload block of docs/reliability.md with its overload stretch."""
    block_replace(
        DOCS, f"{markdown(result)}\n\n![latency, throughput and queues](benchmarks/{plot_path.name})"
    )
    overload = next((s for s in result["stretches"] if "overload" in s), None)
    if overload:
        block_replace(RELIABILITY_DOCS, overload_markdown(result["run_id"], overload), block="overload")


def block_replace(page: Path, content: str, block: str = "last-run") -> None:
    """Replace what stands between the `block` markers of `page` with `content`."""
    begin, end = f"<!-- bench:{block}:begin -->", f"<!-- bench:{block}:end -->"
    head, found, rest = page.read_text().partition(begin)
    if not found:
        raise ValueError(f"{page} has no {begin} marker")
    _, _, tail = rest.partition(end)
    page.write_text(f"{head}{begin}\n{content}\n{end}{tail}")
