"""Benchmark: a department event accepted to its alert delivered at a receiver, at a steady 50 events/s.

    python -m benchmarks.events_bench
    python -m benchmarks.events_bench --rate 50 --events 600
    python -m benchmarks.events_bench --events 600 --workers 2 --restart-after 300   # SIGKILL and restart midway

Target: from the event's POST to the alert arriving at the subscriber's receiver, p50 ≤ 200 ms and p99 ≤ 1 s at
50 events/s. The service is the real one, `relapse serve` (one uvicorn worker, its job runner dispatching
alerts), on a fresh SQLite database, with the model of `benchmarks.service_bench` (the 20,000-household city,
seed 1). The receiver is a real HTTP server on loopback, subscribed to `score.rule_flag` and allowed by
`RELAPSE_ALERT_HOSTS`.

Before the clock starts, each sampled household's document is scored once (`households:score`), so the service
keeps its rows. Households are chosen outside monitoring and without a hospital stay in the year before --as-of:
one stay with 21,000 yuan out of pocket then raises the single-stay rule, so each household's one event re-scores
it and produces exactly one alert. Events are sent open-loop on a fixed schedule (the i-th at i / rate seconds)
by 64 sender threads, each with one request open, so a slow answer does not slow the arrivals. Latency is measured
on this machine's monotonic clock from the time the POST was due to the receiver reading the alert's body; the
report names how late the busiest sender was (a late sender counts against the service, never for it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.service_bench import PSEUDONYM_KEY, Server, _children, _document, our_service, registry

TARGET_MS = (200.0, 1000.0)  # p50, p99


class Receiver:
    """A real HTTP endpoint on loopback: the monotonic time each household's alert arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — the http.server interface
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.monotonic()
                subject = json.loads(body).get("subject")
                outer.arrived.setdefault(str(subject), now)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()


def quiet_households(households: int, seed: int, as_of: str, count: int) -> tuple[Any, list[str]]:
    """The city and `count` households outside monitoring with no hospital stay in the year before `as_of`."""
    from benchmarks.profiles_bench import city_folder
    from features.profiles.build import build_profiles
    from features.pseudonyms.ingestion import ingest
    from features.pseudonyms.keys import PseudonymKey
    from features.reading.sources import read_sources

    city = read_sources(city_folder(households, seed))
    profiles = build_profiles(ingest(city, PseudonymKey.from_text(PSEUDONYM_KEY, "bench")), as_of)
    quiet = (profiles["monitoring_status"] == "not_monitored") & (profiles["max_stay_oop_12m_yuan"].fillna(0) == 0)
    ids = profiles.loc[quiet, "household_id"].astype(str).to_numpy()
    if len(ids) < count:
        raise SystemExit(f"only {len(ids)} quiet households in the city; ask for fewer events")
    return city, sorted(np.random.default_rng(seed).choice(ids, size=count, replace=False).tolist())


def _post(connection: http.client.HTTPConnection, path: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
    response = connection.getresponse()
    payload = response.read()
    if response.status not in (200, 201):
        raise RuntimeError(f"{path}: {response.status} {payload[:400]!r}")
    return dict(json.loads(payload))


def stay(document: dict[str, Any], event_date: str) -> dict[str, Any]:
    return {
        "event_id": f"BENCH-{document['household']['household_id']}",
        "household_id": document["household"]["household_id"],
        "member_id": document["members"][0]["member_id"],
        "event_type": "hospital_stay",
        "event_date": event_date,
        "source_department": "medical_security",
        "total_cost_yuan": 48000.0,
        "oop_cost_yuan": 21000.0,
        "hospital_days": 18,
    }


@dataclass
class Sent:
    """Monotonic times each household's event POST was due (on the schedule) and was answered, and how late the
    busiest sender was."""

    at: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    late_ms: float = 0.0


def run(server: Server, events: list[dict[str, Any]], rate: float, clients: int, sent: Sent) -> None:
    """Send `events` at `rate` per second from `clients` threads, recording when each was sent and answered."""
    headers = {"Content-Type": "application/json", **server.headers}
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(len(events)))
    start = time.monotonic() + 0.5

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            due = start + i / rate
            time.sleep(max(0.0, due - time.monotonic()))
            household = events[i]["household_id"]
            # Latency counts from when the event was due, not when a free sender got to it: a service that falls
            # behind cannot hide its queue by slowing the senders (coordinated omission).
            sent.at[household] = due
            sent.late_ms = max(sent.late_ms, (time.monotonic() - due) * 1000)
            try:
                answer = _post(connection, "/v1/events", {"events": [events[i]]}, headers)
                sent.answered[household] = time.monotonic()
                if answer["events"][0]["scoring"] != "rescored":
                    errors.append(f"{household}: {answer['events'][0]['scoring']}")
            except Exception as error:  # noqa: BLE001 — reported after the run
                errors.append(str(error))
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} events failed; first: {errors[0]}")


def latencies(receiver: Receiver, sent: Sent, wait_s: float = 60) -> tuple[np.ndarray, np.ndarray]:
    """Each event's latency (ms) from its POST to its alert's arrival, and from its POST to the service's answer,
    once every alert arrived; an alert that never arrives is an error."""
    deadline = time.monotonic() + wait_s
    while len(receiver.arrived) < len(sent.at) and time.monotonic() < deadline:
        time.sleep(0.05)
    missing = sorted(set(sent.at) - set(receiver.arrived))
    if missing:
        raise RuntimeError(f"{len(missing)} alerts never arrived (first: {missing[0]})")
    alerted = np.array([(receiver.arrived[h] - sent.at[h]) * 1000 for h in sent.at])
    return alerted, np.array([(sent.answered[h] - sent.at[h]) * 1000 for h in sent.at])


def kill(server: Server) -> None:
    """Stop the service as a crash would: SIGKILL to it and its worker processes, no drain."""
    for pid in [*_children(server.process.pid), server.process.pid]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000, help="city size (model and events)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2025-01-01")
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--events", type=int, default=600, help="timed events, one per household")
    parser.add_argument("--clients", type=int, default=64, help="sender threads (each has one request open)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--restart-after",
        type=int,
        default=0,
        help="kill the service (SIGKILL) after this many events and start it again on the same database; "
        "the rest are sent to the new one, and every alert must still arrive",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.restart_after < args.events:
        parser.error("--restart-after: give a number of events below --events")

    tracking_uri = registry(args.households, args.seed)
    city, chosen = quiet_households(args.households, args.seed, args.as_of, args.events)
    documents = [_document(city, household) for household in chosen]
    event_date = (date.fromisoformat(args.as_of) - timedelta(days=10)).isoformat()
    events = [stay(d, event_date) for d in documents]
    restart = f", killed and restarted after {args.restart_after}" if args.restart_after else ""
    print(
        f"events: {args.events} events at {args.rate:g}/s from {args.clients} threads, {args.workers} uvicorn "
        f"worker(s){restart}, {os.cpu_count()} cores; model of the {args.households:,}-household city "
        f"(seed {args.seed})",
        flush=True,
    )
    env = {"RELAPSE_ALERT_HOSTS": '["127.0.0.1"]'}
    sent = Sent()
    cut = args.restart_after or len(events)
    with tempfile.TemporaryDirectory() as tmp, receiving() as receiver:
        with our_service(tracking_uri, Path(tmp), args.workers, env) as server:
            prepare(server, receiver, documents, args.as_of)
            run(server, events[:cut], args.rate, args.clients, sent)
            if args.restart_after:
                kill(server)
                stopped = time.monotonic()
        if args.restart_after:
            # The same data folder and database: the subscription, the alert cursor and the outbox carry over.
            with our_service(tracking_uri, Path(tmp), args.workers, env) as server:
                print(f"  restarted in {time.monotonic() - stopped:.1f} s", flush=True)
                run(server, events[cut:], args.rate, args.clients, sent)
                latency, answers = latencies(receiver, sent)
                carried = sum(1 for h, t in sent.at.items() if t < stopped and receiver.arrived[h] > stopped)
                print(f"  {carried} alerts of events accepted before the kill were delivered after the restart")
        else:
            latency, answers = latencies(receiver, sent)
    report(latency, answers, sent.late_ms)


def prepare(server: Server, receiver: Receiver, documents: list[dict[str, Any]], as_of: str) -> None:
    """Subscribe the receiver, then score each household's document once so that the service keeps its rows."""
    headers = {"Content-Type": "application/json", **server.headers}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    subscription = {"url": receiver.url, "events": ["score.rule_flag"]}
    _post(connection, "/v1/subscriptions", subscription, headers)
    time.sleep(3)  # the dispatcher's first round sets its cursor: earlier scores are not announced
    for start in range(0, len(documents), 50):
        body = {"households": documents[start : start + 50], "as_of": as_of, "explain": False}
        _post(connection, "/v1/households:score", body, headers)
    connection.close()
    time.sleep(3)  # the first scores are read off the feed (no alerts: nothing to compare with)
    if receiver.arrived:
        raise RuntimeError(f"{len(receiver.arrived)} alerts before any event: the households are not quiet")


def report(latency: np.ndarray, answers: np.ndarray, late_ms: float) -> None:
    p50, p99 = float(np.percentile(latency, 50)), float(np.percentile(latency, 99))
    ok = "met" if p50 <= TARGET_MS[0] and p99 <= TARGET_MS[1] else "MISSED"
    print(
        f"  event POST → alert at the receiver: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latency.max():.0f} ms "
        f"(target ≤ {TARGET_MS[0]:.0f} / ≤ {TARGET_MS[1]:.0f} ms: {ok}); {len(latency)} alerts, none lost"
    )
    print(
        f"  event POST → its answer (re-scored, stored): p50 {np.percentile(answers, 50):.0f} ms, "
        f"p99 {np.percentile(answers, 99):.0f} ms; the latest POST left {late_ms:.0f} ms after it was due"
    )


if __name__ == "__main__":
    main()
