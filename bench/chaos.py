"""`make chaos`: faults injected into the running stack under load, then the invariants.

    python -m bench.chaos              # the full schedule (about 4 minutes of faults)
    python -m bench.chaos --short      # a quick one: fewer kills, shorter outages
    python -m bench.chaos --seed 7     # the same random choices and moments again

While customers place orders at a steady rate, against a card gateway that fails, answers too
late and is slow all along: processes of every kind SIGKILLed at random moments (supervisor
restarts them), events delivered again out of order, poison messages, a consumer frozen past its
session timeout, Kafka stopped and started, PostgreSQL restarted. Then the load stops, the
system settles, and the run checks: zero orders lost (every accepted order is terminal), from
the gateway's own ledger zero double charges and every order's net charge right (its total if
completed, else zero), zero oversold units, reservations and payments agree with the orders,
nothing left open in reconciliation; and it reports the time to converge and how placement
answered during each fault (it must keep answering while Kafka is down).
"""

import argparse
import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from bench import consistency, faults, fixtures, load, measures, report, stack

RATE = 100
SESSION_TIMEOUT_S = 10  # EVENTS_CONSUMER_SESSION_TIMEOUT_MS of the stack
DOCS = stack.ROOT / "docs" / "reliability.md"


def schedule(rng: random.Random, short: bool, scenario: str) -> list[tuple[str, callable]]:
    if scenario == "broker":
        return [("broker kill", lambda: faults.broker_kill(rng, 20 if short else 40))]
    kills = 3 if short else 10
    plan = [(f"kill {n + 1}", lambda: faults.kill_random_process(rng)) for n in range(kills // 2)]
    plan += [
        ("redeliver", lambda: faults.redeliver(rng, 60 if short else 300)),
        ("poison", lambda: faults.poison(4)),
        ("freeze", lambda: faults.consumer_freeze(rng, SESSION_TIMEOUT_S + 5)),
        ("kafka outage", lambda: faults.kafka_outage(10 if short else 30)),
    ]
    if faults.kafka_nodes() > 1:
        plan += [("broker kill", lambda: faults.broker_kill(rng, 20 if short else 40))]
    plan += [(f"kill {n + 1}", lambda: faults.kill_random_process(rng)) for n in range(kills // 2, kills)]
    plan += [("postgres restart", faults.postgres_restart)]
    return plan


def main(argv=None) -> int:
    parser, args = _arguments(argv)
    # Stopped from outside (kill, a CI timeout): unwind like Ctrl-C, so a fault in progress is undone
    # (Kafka started again, a frozen consumer resumed) and the load stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.scenario == "broker" and faults.kafka_nodes() < 3:
        parser.error("the broker scenario needs the three-node cluster: make clean; KAFKA_NODES=3 make up")
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = stack.ROOT / "var" / "chaos" / run_id
    out.mkdir(parents=True)
    began = datetime.now(UTC)
    say(f"chaos {run_id} (seed {seed}, {args.rate:g} orders/s): results in {out}")

    fx = fixtures.fixtures_create(f"chaos{run_id}")
    fx.save(out / "fixtures.json")
    sampler = stack.Sampler()
    sampler.start()
    samples_path = out / "requests.csv"
    timeline, load_ended = _faults_under_load(args, random.Random(seed), out, samples_path)

    say("load stopped; waiting for the system to settle")
    converge = consistency.settle(list(fx.stock), sampler, timeout=900)
    sampler.stop()
    requests = measures.requests_read(samples_path)
    accepted = [r.order_id for r in requests if r.name == "place" and r.status == 202]
    check = consistency.check(accepted=accepted, stock=fx.stock, since=began)
    check["converge_seconds"] = None if converge is None else round(converge, 1)
    poison = faults.poison_discard()
    say(f"the poison messages' dead letters, discarded: {poison or 'none'}")
    during = [_placement_during(requests, f) for f in timeline]
    invariants = _invariants(check, during, settled=converge is not None)
    result = {
        "run_id": run_id,
        "seed": seed,
        "mode": "short" if args.short else "full",
        "scenario": args.scenario,
        "kafka_nodes": faults.kafka_nodes(),
        "rate": args.rate,
        "machine": report.machine(),
        "faults": timeline,
        "placement_during_faults": during,
        "load": {
            "placed": sum(r.name == "place" for r in requests),
            "accepted": len(accepted),
            "errors": Counter(str(r.status) for r in requests if r.error),
            "seconds": round(load_ended - min((r.started for r in requests), default=load_ended), 1),
        },
        "consistency": check,
        "invariants": invariants,
        "passed": all(invariants.values()),
    }
    report.save_json(result, out / "result.json")
    report.plot(requests, sampler.samples, out / "plot.png", f"make chaos {run_id}", faults=timeline)
    print()
    print(markdown(result))
    if not args.short and not args.no_docs:
        _write_docs(result, out, args.scenario)
    return 0 if result["passed"] else 1


def _arguments(argv) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=RATE, help="orders per second during the faults")
    parser.add_argument(
        "--scenario",
        choices=["all", "broker"],
        default="all",
        help="all: the whole schedule; broker: only one Kafka node killed (KAFKA_NODES=3)",
    )
    parser.add_argument("--no-docs", action="store_true", help="leave docs/reliability.md alone")
    return parser, parser.parse_args(argv)


def _faults_under_load(args, rng: random.Random, out, samples_path) -> tuple[list[dict], float]:
    """Start the load, make the gateway flaky for all of it, and inject the schedule's faults at
    random moments; always stop the load and heal the gateway. The faults as they happened (the
    gateway's first), and when the load stopped."""
    locust = load.load_start(
        rate=args.rate, duration=3600, fixtures=out / "fixtures.json", samples=samples_path
    )
    timeline, gateway = [], None
    try:
        gateway = faults.gateway_flaky()
        gateway.update(name="flaky gateway", started=time.time())
        say(f"fault: {gateway['what']}, until the load stops")
        time.sleep(10)  # steady load before the first fault
        for name, fault in schedule(rng, args.short, args.scenario):
            time.sleep(rng.uniform(2, 6))  # a random moment
            started = time.time()
            say(f"fault: {name}")
            outcome = fault()
            outcome.update(name=name, started=started, ended=time.time())
            timeline.append(outcome)
            say(f"  {outcome['what']}")
        time.sleep(10)  # load goes on while the stack recovers from the last fault
    finally:
        load.load_stop(locust)
        faults.gateway_reset()
    load_ended = time.time()
    if gateway is not None:
        timeline.insert(0, {**gateway, "ended": load_ended})
    return timeline, load_ended


def _invariants(check: dict, during: list[dict], *, settled: bool) -> dict[str, bool]:
    """What must hold after any run, from the consistency check and placement during each fault."""
    kafka_down = [d for d in during if d["fault"] == "kafka_outage"]
    invariants = {
        "no_order_lost": check["lost"] == 0,
        "every_order_terminal": check["consistent"]
        or not any("not terminal" in p for p in check["problems"]),
        "no_double_charge": check["double_charges"] == 0,
        "every_net_charge_right_by_the_gateways_ledger": check["wrong_net_charges"] == 0,
        "nothing_oversold": check["oversold_units"] == 0,
        "services_agree": check["consistent"],
        "settled": settled,
        "placement_answers_while_kafka_down": all(d["errors"] == 0 and d["placed"] > 0 for d in kafka_down),
    }
    if any(d["fault"] == "broker_kill" for d in during):
        invariants["placement_uninterrupted_by_a_broker_kill"] = all(
            d["errors"] == 0 for d in during if d["fault"] == "broker_kill"
        )
    return invariants


def _write_docs(result: dict, out, scenario: str) -> None:
    name = "chaos-last-run" if scenario == "all" else "chaos-broker-run"
    docs = stack.ROOT / "docs" / "benchmarks"
    docs.mkdir(exist_ok=True)
    (docs / f"{name}.png").write_bytes((out / "plot.png").read_bytes())
    report.save_json(result, docs / f"{name}.json")
    block = "last-run" if scenario == "all" else "broker-run"
    report.block_replace(DOCS, f"{markdown(result)}\n\n![the chaos run](benchmarks/{name}.png)", block)
    say("docs/reliability.md updated")


def _placement_during(requests: list[measures.Request], fault: dict) -> dict:
    """How placement answered from the fault's start until 5 s after its end."""
    window = [
        r for r in requests if r.name == "place" and fault["started"] <= r.started <= fault["ended"] + 5
    ]
    errors = [r for r in window if r.error]
    completion = measures.completion_seconds([r.order_id for r in window if r.status == 202])
    return {
        "fault": fault["fault"],
        "name": fault["name"],
        "placed": len(window),
        "errors": len(errors),
        "error_statuses": dict(Counter(str(r.status) for r in errors)),
        "placement_ms": measures.latency_summary([r.latency_ms for r in window]),
        "completion_s_max": round(max(completion.values()), 2) if completion else None,
    }


def markdown(result: dict) -> str:
    m, check = result["machine"], result["consistency"]
    lines = [
        f"Run `{result['run_id']}` ({result['mode']}, scenario {result['scenario']}, seed {result['seed']}, "
        f"{result['kafka_nodes']} Kafka node(s)), {result['rate']:g} orders/s offered, {m['cpu']}, "
        f"{m['cores']} cores, {m['os']}; everything on the one machine.",
        "",
        "| fault | what | placed during | errors | placement p99 (ms) | slowest saga of those (s) |",
        "|---|---|---|---|---|---|",
    ]
    for fault, during in zip(result["faults"], result["placement_during_faults"], strict=True):
        statuses = ", ".join(f"{n}x {s}" for s, n in during["error_statuses"].items())
        lines.append(
            f"| {fault['name']} | {fault['what']} | {during['placed']} | {during['errors']}"
            f"{f' ({statuses})' if statuses else ''} | {during['placement_ms']['p99']} "
            f"| {during['completion_s_max']} |"
        )
    load_figures, reconciliation = result["load"], check["reconciliation"]
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(check["by_status"].items()))
    lines += [
        "",
        f"- Load: {load_figures['placed']} orders placed over {load_figures['seconds']} s, "
        f"{load_figures['accepted']} accepted; failed requests by status: "
        f"{dict(load_figures['errors']) or 'none'}.",
        f"- Converged {check['converge_seconds']} s after the load stopped. {check['orders']} orders in the "
        f"databases: {statuses}.",
        f"- Lost {check['lost']}; by the card gateway's own ledger, double charges {check['double_charges']} "
        f"and orders with a wrong net charge {check['wrong_net_charges']}; oversold units "
        f"{check['oversold_units']}; reconciliation found {reconciliation['found']}, open on the run's "
        f"orders {reconciliation['open_divergences_of_the_run']}.",
        "",
        "| invariant | held |",
        "|---|---|",
        *(
            f"| {name.replace('_', ' ')} | {'yes' if held else '**NO**'} |"
            for name, held in result["invariants"].items()
        ),
    ]
    if check["problems"]:
        lines += ["", f"Problems: {check['problems']}"]
    return "\n".join(lines)


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
