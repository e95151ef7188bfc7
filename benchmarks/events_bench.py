"""Benchmark: a department event accepted to its alert delivered at a receiver, at a steady 50 events/s.

    python -m benchmarks.events_bench
    python -m benchmarks.events_bench --rate 50 --events 600

Target: from the event's POST to the alert arriving at the subscriber's receiver, p50 ≤ 200 ms and p99 ≤ 1 s at
50 events/s. The service is the real one, `relapse serve` (one uvicorn worker, its job runner dispatching
alerts), on a fresh SQLite database, with the model of `benchmarks.service_bench` (the 20,000-household city,
seed 1). The receiver is a real HTTP server on loopback, subscribed to `score.rule_flag` and allowed by
`RELAPSE_ALERT_HOSTS`.

Before the clock starts, each sampled household's document is scored once (`households:score`), so the service
keeps its rows. Households are chosen outside monitoring and without a hospital stay in the year before --as-of:
one stay with 21,000 yuan out of pocket then raises the single-stay rule, so each household's one event re-scores
it and produces exactly one alert. Events are sent open-loop on a fixed schedule (the i-th at i / rate seconds)
by several client threads, so a slow answer does not slow the arrivals. Latency is measured on this machine's
monotonic clock from sending the POST to the receiver reading the alert's body.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.service_bench import PSEUDONYM_KEY, Server, _document, our_service, registry

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


def run(
    server: Server, receiver: Receiver, events: list[dict[str, Any]], rate: float, clients: int
) -> tuple[np.ndarray, np.ndarray]:
    """Send `events` at `rate` per second; each one's latency (ms) from its POST to its alert's arrival, and from
    its POST to the service's answer."""
    headers = {"Content-Type": "application/json", **server.headers}
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
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
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            household = events[i]["household_id"]
            sent[household] = time.monotonic()
            try:
                answer = _post(connection, "/v1/events", {"events": [events[i]]}, headers)
                answered[household] = time.monotonic()
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
    deadline = time.monotonic() + 30
    while len(receiver.arrived) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    if errors:
        raise RuntimeError(f"{len(errors)} events failed; first: {errors[0]}")
    missing = sorted(set(sent) - set(receiver.arrived))
    if missing:
        raise RuntimeError(f"{len(missing)} alerts never arrived (first: {missing[0]})")
    alerted = np.array([(receiver.arrived[h] - sent[h]) * 1000 for h in sent])
    return alerted, np.array([(answered[h] - sent[h]) * 1000 for h in sent])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000, help="city size (model and events)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2025-01-01")
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--events", type=int, default=600, help="timed events, one per household")
    parser.add_argument("--clients", type=int, default=8, help="sender threads")
    args = parser.parse_args(argv)

    tracking_uri = registry(args.households, args.seed)
    city, chosen = quiet_households(args.households, args.seed, args.as_of, args.events)
    documents = [_document(city, household) for household in chosen]
    event_date = (date.fromisoformat(args.as_of) - timedelta(days=10)).isoformat()
    print(
        f"events: {args.events} events at {args.rate:g}/s from {args.clients} threads, one uvicorn worker, "
        f"{os.cpu_count()} cores; model of the {args.households:,}-household city (seed {args.seed})",
        flush=True,
    )
    env = {"RELAPSE_ALERT_HOSTS": '["127.0.0.1"]'}
    with tempfile.TemporaryDirectory() as tmp, receiving() as receiver:
        with our_service(tracking_uri, Path(tmp), 1, env) as server:
            headers = {"Content-Type": "application/json", **server.headers}
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            subscription = {"url": receiver.url, "events": ["score.rule_flag"]}
            _post(connection, "/v1/subscriptions", subscription, headers)
            time.sleep(3)  # the dispatcher's first round sets its cursor: earlier scores are not announced
            for start in range(0, len(documents), 50):
                body = {"households": documents[start : start + 50], "as_of": args.as_of, "explain": False}
                _post(connection, "/v1/households:score", body, headers)
            connection.close()
            time.sleep(3)  # the first scores are read off the feed (no alerts: nothing to compare with)
            if receiver.arrived:
                raise RuntimeError(f"{len(receiver.arrived)} alerts before any event: the households are not quiet")
            latency, answers = run(server, receiver, [stay(d, event_date) for d in documents], args.rate, args.clients)
    p50, p99 = float(np.percentile(latency, 50)), float(np.percentile(latency, 99))
    ok = "met" if p50 <= TARGET_MS[0] and p99 <= TARGET_MS[1] else "MISSED"
    print(
        f"  event POST → alert at the receiver: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latency.max():.0f} ms "
        f"(target ≤ {TARGET_MS[0]:.0f} / ≤ {TARGET_MS[1]:.0f} ms: {ok}); {len(latency)} alerts, none lost"
    )
    print(
        f"  event POST → its answer (re-scored, stored): p50 {np.percentile(answers, 50):.0f} ms, "
        f"p99 {np.percentile(answers, 99):.0f} ms"
    )


if __name__ == "__main__":
    main()
