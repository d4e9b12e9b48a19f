"""The receiver's fast path: right after an event is stored, the `humacrona webhook` process asks for its
`push_huma_changes` run itself instead of waiting for the `huma_changes_sensor`'s next tick, the daemon's
queue and a run worker that imports the whole code location (seconds each).

How: the receiver stores each event claimed `PENDING` (its own to push). A `multiprocessing` fork server,
started with the receiver, imports the push (`push_worker`, which loads the code location and warms it up)
once. After each stored event the receiver forks a worker from it (milliseconds), which claims the oldest
batch of pending events, creates its run with the tags the sensor gives its runs, and executes it in that
process, then the next batch, until none is pending (`push_worker.push_pending`): a real Dagster run of the
same job, in the instance's run list with its events and logs, that starts as soon as it is forked. At most
`MAX_PUSHES` workers at once; events arriving meanwhile wait in the inbox and go together in the next batch. Pushes of
the same employee never overlap, whoever launched them (`state.push_locks`, taken by the job itself).

Per connection: each connection's events are in its own inbox; `notify(connection)` names the connection whose
event was stored, and a worker pushes the pending events of the connections named since the last fork (none
named: all), each connection's batch its own run of that connection's partition (`push_worker`).

Never lost: the event is stored before anyone is asked; a worker that cannot create the run gives its claim
back (the sensor's next tick pushes it); events still pending, or claimed without a run, after
`sensors.CLAIM_GRACE_S` (dead or stuck workers) are taken over by the sensor. Only enabled where a run could
succeed: a Dagster instance (``DAGSTER_HOME``) and the Huma and Crona connection variables in the receiver's
environment, or a connections file whose connections and variables are all there (`missing_settings`)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import wait

from ...connection.connections import CONNECTIONS_FILE_ENV, ConnectionsError, load_connections
from ...connection.variables import VARIABLES
from ...state.home import DAGSTER_HOME_ENV

log = logging.getLogger(__name__)

MAX_PUSHES = 3  # push runs this receiver executes at once; more events wait for the next batch
CONNECTION_VARIABLES = tuple(v.name for v in VARIABLES)  # the five the Huma and Crona connections need
WORKER_MODULE = "humacrona_pipeline.defs.realtime.push_worker"


def missing_settings(environ=os.environ) -> list[str]:
    """What the receiver's environment lacks to run pushes itself (empty: it can): with a connections file, a
    file the code location can load (each connection's variables set), else the one connection's variables."""
    if not (environ.get(CONNECTIONS_FILE_ENV) or "").strip():
        return [name for name in (DAGSTER_HOME_ENV, *CONNECTION_VARIABLES) if not (environ.get(name) or "").strip()]
    missing = [DAGSTER_HOME_ENV] if not (environ.get(DAGSTER_HOME_ENV) or "").strip() else []
    try:
        load_connections(environ=environ)
    except ConnectionsError:
        missing.append(f"a {CONNECTIONS_FILE_ENV} that `humacrona check` accepts")
    return missing


class PushTrigger:
    """Forks a push worker after each stored event (`notify`), at most `max_pushes` at a time."""

    def __init__(self, state_url: str | None = None, max_pushes: int = MAX_PUSHES) -> None:
        if max_pushes < 1:
            raise ValueError("max_pushes must be at least 1")
        self.state_url, self.max_pushes = state_url, max_pushes
        self._context = multiprocessing.get_context("forkserver")
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._named: set[str] | None = set()  # the connections notified since the last fork; None: all
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="humacrona-push-trigger", daemon=True)
        self.launched = 0

    def start(self) -> PushTrigger:
        """Start the fork server (it loads the push in the background: the first push may wait for it)."""
        self._context.set_forkserver_preload([WORKER_MODULE])
        self._thread.start()
        return self

    def notify(self, connection: str | None = None) -> None:
        """An event was stored in ``connection``'s inbox (None: any): push what is pending there, now or as soon
        as a worker is free."""
        with self._lock:
            if connection is None or self._named is None:
                self._named = None
            else:
                self._named.add(connection)
        self._wake.set()

    def _take_named(self) -> list[str] | None:
        with self._lock:
            named, self._named = self._named, set()
        return None if named is None else sorted(named)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop forking; workers already running finish their run (they are not killed)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        running: list = []
        try:
            running.append(self._fork("warm"))  # the fork server starts now and loads the push, not at the first event
        except Exception:
            log.exception("the push worker cannot start; pushes wait for the huma_changes_sensor")
            return
        while not self._stop.is_set():
            running = [p for p in running if p.is_alive() or p.join() or False]
            if len(running) >= self.max_pushes:
                wait([p.sentinel for p in running], timeout=1.0)
                continue
            if not self._wake.wait(timeout=1.0) or self._stop.is_set():
                continue
            self._wake.clear()
            named = self._take_named()
            if named == []:  # woken again for connections an earlier fork already took
                continue
            try:
                running.append(self._fork("push_pending", self.state_url, named))
                self.launched += 1
            except Exception:
                log.exception("could not start a push worker; the huma_changes_sensor will push the events")
        for process in running:
            process.join()

    def _fork(self, name: str, *args):
        process = self._context.Process(target=_in_worker, args=(name, *args), name="humacrona-push", daemon=False)
        process.start()
        return process


def _in_worker(name: str, *args) -> None:
    """A push worker's entry: what the fork server preloaded (the receiver itself never imports Dagster)."""
    from . import push_worker

    getattr(push_worker, name)(*args)
