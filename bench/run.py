"""`make bench`: the load benchmark of the running stack.

    python -m bench.run            # stage 1 (10,000 orders/min for 60 s), then stage 2 (step up)
    python -m bench.run --short    # a quick check: stage 1 for 20 s, short reference runs

Stage 1 offers 167 orders/s (10,000 a minute). Stage 2 steps the rate up, a stretch at a time,
until placement p99 passes 300 ms or the system falls behind; the last stretch that kept up is the
maximum sustainable rate. Then the same stretch at stage 1's rate with one and with two event
workers per service (stack/scripts/event-workers.sh), side by side; the stack is left with the
workers it had. Then the overload stretch: twice the maximum sustained rate for a minute, judged
by bench/overload.py (refusals with Retry-After, goodput, no harm to accepted orders). Between
stretches the system settles. At the end: reference figures, a
consistency check, and the results in var/bench/<run>/ (and, in full mode, docs/benchmarks.md).
"""

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime

from bench import consistency, fixtures, load, measures, overload, reference, report, stack

STAGE_1_RATE = 167
# Up from stage 1 when it kept up, until a stretch does not; down from it when it did not, until
# one does: either way the last rate that kept up is the maximum sustainable one.
STAGE_2_UP = (200, 240, 290, 350, 420, 500, 600)
STAGE_2_DOWN = (140, 120, 100, 80, 60, 40, 30, 20)
# A stretch keeps up when all of these hold, and its work is done within SETTLE_SECONDS of its end.
SETTLE_SECONDS = 180
DRAIN_SECONDS = 900
P99_LIMIT_MS = 300
MIN_ACHIEVED = 0.97
MAX_ERROR_RATE = 0.001
# Full mode ends with the overload stretch: this many times the maximum sustained rate, this long.
OVERLOAD_FACTOR = 2
OVERLOAD_SECONDS = 60
# Full mode ends with the same stretch at each of these event worker counts per service.
WORKER_COUNTS = (1, 2)
# After changing them, the stack counts as idle again once it uses under QUIET_CORES for
# QUIET_SECONDS in a row (an idle stack uses about 0.3 of a core here, most of it Kafka answering
# the consumers' fetches; starting its processes, over 1.5).
QUIET_CORES = 0.6
QUIET_SECONDS = 5
QUIET_TIMEOUT_SECONDS = 120


def main(argv=None) -> int:
    args = _arguments(argv)
    run = Run(short=args.short)
    run.references()
    for label, rate, seconds in _plan(args, run.stretches):
        run.stretch(label, rate, seconds)
    if not args.short and not args.no_workers:
        run.compare_event_workers(args.step_seconds)
    best = _best(run.stretches)
    if not args.short and not args.no_overload and (best or args.overload_rate):
        # Twice what the stack sustains, for a minute: admission control must refuse what it
        # cannot take on time, quickly, and leave the orders it took unharmed.
        run.stretch("overload", args.overload_rate or OVERLOAD_FACTOR * best, OVERLOAD_SECONDS)
    result = run.finish()
    if not args.short and not args.no_docs:
        run.write_docs(result)
    return 0 if result["consistency"]["consistent"] else 1


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true", help="a quick check: stage 1 for 20 s, no stage 2")
    parser.add_argument("--stage1-seconds", type=float, help="stage 1's length (default 60, short 20)")
    parser.add_argument("--step-seconds", type=float, default=30, help="each stage 2 stretch's length")
    parser.add_argument("--rates", type=float, nargs="+", help="stage 2's rates, in order (orders/s)")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument(
        "--no-workers", action="store_true", help="skip the same stretch with 1 and 2 event workers"
    )
    parser.add_argument("--no-overload", action="store_true", help="skip the overload stretch")
    parser.add_argument(
        "--overload-rate", type=float, help="the overload stretch's rate (default: twice the sustained)"
    )
    return parser.parse_args(argv)


class Run:
    """One benchmark run: its results directory, the sampler of the stack's processes, the
    fixtures, and every stretch's requests and summary as they come."""

    def __init__(self, *, short: bool):
        self.short = short
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.out = stack.ROOT / "var" / "bench" / self.run_id
        self.out.mkdir(parents=True)
        self.began = datetime.now(UTC)
        say(f"benchmark {self.run_id} ({'short' if short else 'full'} mode): results in {self.out}")
        self.sampler = stack.Sampler()
        self.sampler.start()
        say("waiting for the stack to be idle (no event waiting anywhere), so nothing else competes")
        if consistency.settle([], self.sampler, timeout=900) is None:
            say("  the stack is still busy after 15 minutes; the figures below are not from a quiet stack")
        self.refs: dict = {}
        self.stretches: list[dict] = []
        self.all_requests: list = []
        self.order_ids: list[str] = []
        self.workers = stack.event_workers()
        self.fixtures = None
        self.fixtures_path = self.out / "fixtures.json"

    def references(self) -> None:
        """PostgreSQL's and Kafka's own rates on this machine, then the run's fixtures."""
        say("reference: PostgreSQL alone (pgbench) and Kafka alone (ProducerPerformance)")
        self.refs = {
            "postgres": reference.postgres_orders_per_second(5 if self.short else 20),
            "kafka": reference.kafka_records_per_second(50_000 if self.short else 300_000),
        }
        postgres = self.refs["postgres"]["orders_per_second"]
        kafka = self.refs["kafka"]["records_per_second"]
        say(f"  PostgreSQL {postgres} orders/s, Kafka {kafka:,} records/s")
        say("fixtures: customers and the run's products")
        self.fixtures = fixtures.fixtures_create(self.run_id)
        self.fixtures.save(self.fixtures_path)

    def stretch(self, label: str, rate: float, seconds: float) -> None:
        """Offer `rate` orders/s for `seconds`, let the stack settle, and judge the stretch."""
        say(f"{label}: {rate:g} orders/s for {seconds:g} s ({self.workers} event worker(s) per service)")
        samples_path = self.out / f"requests-{len(self.stretches)}.csv"
        load.load_run(rate=rate, duration=seconds, fixtures=self.fixtures_path, samples=samples_path)
        requests = measures.requests_read(samples_path)
        self.all_requests.extend(requests)
        self.order_ids.extend(r.order_id for r in requests if r.name == "place" and r.status == 202)
        skus = list(self.fixtures.stock)
        settled = consistency.settle(skus, self.sampler, timeout=SETTLE_SECONDS)
        drained = settled
        if settled is None:
            # Judged already (it did not keep up), but the next stretch must start from an idle
            # stack, and the completion figures must count every saga, however late it ended.
            say(f"  not settled within {SETTLE_SECONDS} s; waiting for the queues to drain")
            more = consistency.settle(skus, self.sampler, timeout=DRAIN_SECONDS)
            drained = None if more is None else SETTLE_SECONDS + more
        samples = self.sampler.samples
        summary = measures.stretch_summary(
            rate=rate, duration=seconds, requests=requests, samples=samples, settled_after=drained
        )
        summary["label"] = label
        summary["event_workers"] = self.workers
        summary["settled_after_s"] = None if settled is None else round(settled, 1)
        summary["drained_after_s"] = None if drained is None else round(drained, 1)
        summary["sustained"] = _kept_up(summary) and settled is not None
        if label == "overload":
            # Judged by what admission control must keep, not by keeping up with the offer.
            summary["overload"] = overload.overload_summary(
                requests=requests,
                summary=summary,
                max_sustained=_best(self.stretches),
                # the door aims at a median completion of its target: a p99 of about twice it
                bound_s=2 * float(stack.setting("orders", "ORDERS_ADMISSION_TARGET_SECONDS")),
            )
            summary["sustained"] = all(summary["overload"]["holds"].values())
        self.stretches.append(summary)
        say("  " + _line(summary))

    def compare_event_workers(self, seconds: float) -> None:
        """The same stretch with one and with two event workers per service, one after the other,
        at the brief's rate: what a second worker buys and costs there. (At the edge of what the
        machine sustains, 240 orders/s on 2026-11-30, neither kept up: the comparison said only
        that both were saturated.) The stack is left with the workers it had."""
        for count in WORKER_COUNTS:
            say(f"event workers: {count} per service")
            self.workers = stack.event_workers(count)
            # The restart's own work (every process importing Django, consumers joining their
            # groups) is not the stretch's: wait until the stack idles again.
            self._idle_after_restart()
            self.stretch(f"{count} worker{'s' if count > 1 else ''}", STAGE_1_RATE, seconds)
        self.workers = stack.event_workers(self.stretches[0]["event_workers"])
        # The overload stretch, like the others, starts from an idle stack, not from event workers
        # still joining their groups: the door counts a stage that is not moving as an outage and
        # takes every order through it (20261202T054935Z's overload began so: completion p99 17 s).
        self._idle_after_restart()

    def finish(self) -> dict:
        """Settle, check consistency, and save and print the run's result."""
        say("settling, then checking consistency")
        converge = consistency.settle(list(self.fixtures.stock), self.sampler, timeout=300)
        self.sampler.stop()
        check = consistency.check(accepted=self.order_ids, stock=self.fixtures.stock, since=self.began)
        check["converge_seconds"] = None if converge is None else round(converge, 1)
        result = {
            "run_id": self.run_id,
            "mode": "short" if self.short else "full",
            "machine": report.machine(),
            "reference": self.refs,
            "stretches": self.stretches,
            "max_sustained_per_second": _best(self.stretches),
            "consistency": check,
        }
        report.save_json(result, self.out / "result.json")
        title = f"make bench {self.run_id}"
        report.plot(self.all_requests, self.sampler.samples, self.out / "plot.png", title)
        print()
        print(report.markdown(result))
        return result

    def write_docs(self, result: dict) -> None:
        docs = stack.ROOT / "docs" / "benchmarks"
        docs.mkdir(exist_ok=True)
        shutil.copy(self.out / "result.json", docs / "last-run.json")
        shutil.copy(self.out / "plot.png", docs / "last-run.png")
        report.docs_update(result, docs / "last-run.png")
        say("docs/benchmarks.md and docs/benchmarks/last-run.{json,png} updated")

    def _idle_after_restart(self) -> None:
        if not _quiet(self.sampler):
            say(f"  the stack did not idle within {QUIET_TIMEOUT_SECONDS} s of the restart")


def _plan(args, stretches: list[dict]):
    """The stretches to run, (label, rate, seconds), each chosen once the one before is judged."""
    yield "stage 1", STAGE_1_RATE, args.stage1_seconds or (20 if args.short else 60)
    if args.short:
        return
    going_up = stretches[0]["sustained"]
    rates = args.rates or (STAGE_2_UP if going_up else STAGE_2_DOWN)
    for rate in rates:
        yield "stage 2", rate, args.step_seconds
        if stretches[-1]["sustained"] != going_up:
            return  # up: this one failed; down: this one kept up


def _best(stretches: list[dict]) -> float:
    """The fastest rate a stage so far sustained (0: none): the search's stretches only, not the
    comparison of event workers, which offers the brief's rate whatever the stages found."""
    return max(
        (s["offered_per_second"] for s in stretches if s["sustained"] and s["label"].startswith("stage")),
        default=0,
    )


def _quiet(sampler: stack.Sampler) -> bool:
    """Wait until the stack's processes together use under QUIET_CORES for QUIET_SECONDS running
    (the sampler's last samples, one a second); whether they did within QUIET_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + QUIET_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        recent = [values for _, values in sampler.samples[-QUIET_SECONDS:] if "error" not in values]
        if len(recent) == QUIET_SECONDS and all(measures.total(v, "cpu.") < QUIET_CORES for v in recent):
            return True
        time.sleep(1)
    return False


def _kept_up(summary: dict) -> bool:
    return (
        summary["achieved_per_second"] >= MIN_ACHIEVED * summary["offered_per_second"]
        and summary["errors"] <= MAX_ERROR_RATE * max(summary["placed"], 1)
        and (summary["placement_ms"]["p99"] or 0) < P99_LIMIT_MS
        and not summary["falling_behind"]
    )


def _line(s: dict) -> str:
    p, c = s["placement_ms"], s["completion_s"]
    return (
        f"achieved {s['achieved_per_second']:g}/s, errors {s['errors']}, placement p50/p95/p99/max "
        f"{p['p50']}/{p['p95']}/{p['p99']}/{p['max']} ms, completion p50/p99 {c['p50']}/{c['p99']} s, "
        f"max backlog {s['max_outbox_backlog']}, max lag {s['max_consumer_lag']}, settled in "
        f"{s['settled_after_s']} s (drained in {s['drained_after_s']} s) -> "
        f"{'keeps up' if s['sustained'] else 'does not keep up'}"
    )


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
