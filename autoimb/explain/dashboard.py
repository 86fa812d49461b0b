"""Serve optuna-dashboard for an autoimb study.

Two ways in:

* :func:`run_dashboard` blocks and serves until Ctrl+C; ``autoimb dashboard
  STORAGE`` calls it (:func:`dashboard_command` writes that command line).
* :class:`DashboardServer` serves from a background thread, for
  ``fit(..., dashboard=True)``: create the study, ``start()``, run the
  trials, ``stop()``.

Both run optuna-dashboard's WSGI app (:func:`optuna_dashboard.wsgi`) in a
threaded :mod:`wsgiref` server bound to 127.0.0.1 by default, with the
artifact store so that the figures of :mod:`autoimb.explain.notes` show.

optuna-dashboard 0.21 cannot start on a journal file that does not exist yet
(``ValueError: Failed to guess storage class from storage_url``) nor on a
SQLite URL whose tables were not created (``StorageInternalError``), and on an
empty storage it shows an empty list that the user has to reload. So
:func:`run_dashboard` first waits until the storage holds a study.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import socket
import sys
import threading
import time
import webbrowser
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import optuna

from autoimb.exceptions import AutoImbError
from autoimb.explain.notes import default_artifact_store
from autoimb.storage.journal import DEFAULT_STORAGE
from autoimb.storage.location import StorageLocation

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from autoimb._optuna_compat import ArtifactStore

__all__ = [
    "DEFAULT_STORAGE",
    "DashboardServer",
    "dashboard_command",
    "run_dashboard",
    "serving",
]

logger = logging.getLogger(__name__)

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_POLL_SECONDS = 0.5


def dashboard_command(storage: str, artifact_dir: str | None = None) -> str:
    """Shell command that opens the dashboard of a storage.

    Parameters
    ----------
    storage : str
        Journal file path or storage URL, as given to the search.
    artifact_dir : str or None, default=None
        Artifact folder, when it is not the default one next to the storage
        file.

    Returns
    -------
    str
        ``autoimb dashboard <storage> [--artifact-dir <dir>]``, quoted for a
        POSIX shell.

    Examples
    --------
    >>> dashboard_command("autoimb.journal")
    'autoimb dashboard autoimb.journal'
    >>> dashboard_command("my runs/a.journal", artifact_dir="figs")
    "autoimb dashboard 'my runs/a.journal' --artifact-dir figs"
    """
    if not isinstance(storage, str) or not storage:
        raise AutoImbError(
            f"storage={storage!r} is not a storage path or URL; pass e.g. "
            f"{DEFAULT_STORAGE!r} or 'sqlite:///autoimb.db'."
        )
    parts = ["autoimb", "dashboard", shlex.quote(storage)]
    if artifact_dir is not None:
        parts += ["--artifact-dir", shlex.quote(os.fspath(artifact_dir))]
    return " ".join(parts)


def _open_storage(location: str | BaseStorage) -> BaseStorage:
    """Storage object for a path or URL, creating nothing.

    A plain path is a journal file, refused if missing (``No such file: PATH``);
    a database URL is read without creating its tables (see
    :class:`autoimb.storage.location.StorageLocation`).
    """
    return StorageLocation.parse(location).open(for_search=False)


def _try_study_names(location: str | BaseStorage) -> list[str] | None:
    """Names of the studies in a storage, or None if it cannot be read yet."""
    parsed = StorageLocation.parse(location)
    # Create no file and no tables: they are the search's to create.
    if parsed.missing_file is not None:
        return None
    try:
        storage = parsed.open_to_read() if parsed.local_file else \
            _open_storage(location)
        if storage is None:  # an SQLite file whose tables are not there yet
            return None
        return [s.study_name for s in storage.get_all_studies()]
    except AutoImbError:
        raise
    except Exception as exc:
        logger.debug("Storage %r not readable yet: %s", location, exc)
        return None


def _wait_for_study(
    location: str | BaseStorage, study_name: str | None, timeout: float
) -> None:
    """Block until the storage holds a study (``study_name`` if given).

    A journal or SQLite file that does not exist yet is waited for (a search
    started after the dashboard creates it), not created; one in a folder that
    does not exist is refused at once.
    """
    deadline = time.monotonic() + max(0.0, float(timeout))
    told = False
    parsed = StorageLocation.parse(location)
    missing = parsed.missing_file
    if missing is not None and (
            timeout <= 0 or not os.path.isdir(os.path.dirname(missing) or ".")):
        raise AutoImbError(parsed.missing_file_message())
    if missing is not None:
        msg = (f"No such file yet: {missing!r}; waiting up to {timeout:g} s for it "
               "to appear (start a search with this storage)...")
        logger.info(msg)
        print(msg, file=sys.stderr, flush=True)
        told = True
    while True:
        names = _try_study_names(location)
        if names and (study_name is None or study_name in names):
            return
        if time.monotonic() >= deadline:
            break
        if not told:
            what = f"study {study_name!r}" if study_name else "a study"
            msg = (
                f"Waiting up to {timeout:g} s for {what} in {_describe(location)} "
                "(start a search with this storage)..."
            )
            logger.info(msg)
            print(msg, file=sys.stderr, flush=True)
            told = True
        time.sleep(_POLL_SECONDS)
    if parsed.missing_file is not None:
        raise AutoImbError(parsed.missing_file_message(waited=timeout) + (
            " Run a search with this storage first, pass the storage the search "
            "used, or a longer wait_for_study."))
    if study_name is not None and names:
        raise AutoImbError(
            f"No study named {study_name!r} in {_describe(location)} after "
            f"{timeout:g} s; it holds {sorted(names)!r}. Pass one of those names, "
            "or none to see them all."
        )
    raise AutoImbError(
        f"No study in {_describe(location)} after {timeout:g} s. Run a search "
        "with this storage first, pass the storage the search used, or a longer "
        "wait_for_study."
    )


def _describe(location: str | BaseStorage) -> str:
    shown = StorageLocation.parse(location).shown
    return repr(shown) if isinstance(location, str) else shown


def _default_store_for(location: str | BaseStorage) -> ArtifactStore | None:
    """Artifact store next to a local storage file, or None for anything else."""
    if isinstance(location, str) and StorageLocation.parse(location).local_file:
        return default_artifact_store(location)
    return None


def _make_store(artifact_dir: str | os.PathLike[str] | None) -> ArtifactStore | None:
    if artifact_dir is None:
        return None
    folder = os.fspath(artifact_dir)
    if not os.path.isdir(folder):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise AutoImbError(
                f"artifact_dir={folder!r} does not exist and cannot be created "
                f"({exc}); pass an existing folder."
            ) from exc
    return optuna.artifacts.FileSystemArtifactStore(folder)


class _QuietHandler(WSGIRequestHandler):
    """Request handler that logs at DEBUG instead of writing to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("dashboard %s - %s", self.address_string(), format % args)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref server, one thread per request, that stops without waiting."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            # A browser tab closed mid-request: nothing to report.
            logger.debug("dashboard client %s went away: %s", client_address, exc)
            return
        logger.warning(
            "dashboard: error while serving %s", client_address, exc_info=True
        )


class _ThreadingWSGIServerV6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


def _make_server(host: str, port: int | None, app: Any) -> _ThreadingWSGIServer:
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    ):
        raise AutoImbError(
            f"port={port!r} is not a TCP port; pass an integer in 1..65535, or "
            "None for a free one."
        )
    cls = _ThreadingWSGIServerV6 if ":" in host else _ThreadingWSGIServer
    try:
        server = cls((host, port or 0), _QuietHandler)
    except OSError as exc:
        raise AutoImbError(
            f"Cannot serve the dashboard on {host}:{port or 0} ({exc}); pass "
            "port=None to use a free port, or another host."
        ) from exc
    server.set_app(app)
    if host not in _LOOPBACK:
        logger.warning(
            "The dashboard listens on %s, reachable from other machines; it has no "
            "login and lets anyone delete studies. Use host='127.0.0.1' unless "
            "that is what you want.",
            host,
        )
    return server


def _server_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"http://{shown}:{port}"


def _study_path(storage: BaseStorage, study_name: str | None) -> str:
    if study_name is None:
        return "/dashboard/"
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        logger.warning(
            "No study named %r in the storage yet; the dashboard URL opens the "
            "list of studies instead.",
            study_name,
        )
        return "/dashboard/"
    return f"/dashboard/studies/{study_id}"


class DashboardServer:
    """optuna-dashboard served from a background thread.

    Parameters
    ----------
    storage : str or optuna.storages.BaseStorage
        The storage object the search uses (recommended: the dashboard then
        shares its connection and lock), a journal file path, or a URL.
    artifact_store : optuna ArtifactStore or None, default=None
        Where the trials' figures are, e.g. the same
        :func:`~autoimb.explain.notes.default_artifact_store` the search uploads to.
        None: the default folder next to a local storage file, if ``storage``
        is a path or ``sqlite:///`` URL; no artifacts otherwise.
    host : str, default="127.0.0.1"
        Address to bind; keep the loopback unless others must see it.
    port : int or None, default=None
        TCP port; None picks a free one (see :attr:`url`).
    study_name : str or None, default=None
        If given, :attr:`url` opens that study's page.

    Examples
    --------
    >>> import optuna
    >>> storage = optuna.storages.InMemoryStorage()
    >>> study = optuna.create_study(storage=storage, study_name="demo")
    >>> with DashboardServer(storage, study_name="demo") as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        storage: str | BaseStorage,
        *,
        artifact_store: ArtifactStore | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        study_name: str | None = None,
    ) -> None:
        self.storage = storage
        self.artifact_store = artifact_store
        self.host = host
        self.port = port
        self.study_name = study_name
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """URL of the dashboard (of the study's page if ``study_name`` was given).

        Raises
        ------
        AutoImbError
            If the server is not running.
        """
        if self._url is None:
            raise AutoImbError(
                "The dashboard server is not running, so it has no URL; call "
                "start() first."
            )
        return self._url

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> DashboardServer:
        """Bind the port and serve in a daemon thread; return ``self``.

        Raises
        ------
        AutoImbError
            If the port cannot be bound, or the storage cannot be opened.
        """
        if self._server is not None:
            return self
        import optuna_dashboard

        storage = _open_storage(self.storage)
        store = self.artifact_store
        if store is None:
            store = _default_store_for(self.storage)
        app = optuna_dashboard.wsgi(storage, artifact_store=store)
        server = _make_server(self.host, self.port, app)
        port = server.server_address[1]
        path = _study_path(storage, self.study_name)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"autoimb-dashboard-{port}",
            daemon=True,
        )
        self._thread.start()
        self._url = _server_url(self.host, port) + path
        logger.info("Dashboard serving at %s", self._url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and free the port; safe to call twice.

        Parameters
        ----------
        timeout : float, default=5.0
            Seconds to wait for the server thread to end.
        """
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._url = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning(
                    "The dashboard thread did not end within %.1f s; it is a "
                    "daemon thread and ends with the process.",
                    timeout,
                )
        logger.info("Dashboard stopped")

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self._url if self._url else "stopped"
        return f"DashboardServer({_describe(self.storage)}, {state})"


@contextlib.contextmanager
def serving(enabled: bool, storage, *, artifact_store=None, study_name=None):
    """Serve optuna-dashboard for the time of a ``with`` block (a search's),
    saying where on stderr; nothing when not ``enabled``.

    Examples
    --------
    >>> with serving(False, None) as server:
    ...     print(server)
    None
    """
    if not enabled:
        yield None
        return
    server = DashboardServer(storage, artifact_store=artifact_store,
                             study_name=study_name).start()
    message = f"autoimb: dashboard at {server.url}"
    logger.info(message)
    print(message, file=sys.stderr)
    try:
        yield server
    finally:
        server.stop()


def run_dashboard(
    storage: str | BaseStorage | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    study_name: str | None = None,
    artifact_dir: str | os.PathLike[str] | None = None,
    wait_for_study: float = 60.0,
    open_browser: bool = False,
) -> None:
    """Serve optuna-dashboard until interrupted (Ctrl+C).

    Parameters
    ----------
    storage : str, optuna.storages.BaseStorage or None, default=None
        A journal file path (``JournalStorage(JournalFileBackend(path))``), a
        URL passed as-is (``sqlite:///autoimb.db``, ``postgresql://...``), or
        a storage object. None: ``autoimb.journal`` in the current folder.
    host : str, default="127.0.0.1"
        Address to bind.
    port : int or None, default=None
        TCP port; None picks a free one. The URL is printed to stdout.
    study_name : str or None, default=None
        Wait for this study and open its page; None waits for any study.
    artifact_dir : str, path-like or None, default=None
        Folder of the figures. None: the folder next to a local storage file
        (``autoimb.journal.artifacts``), created if missing; no artifacts for
        a remote storage.
    wait_for_study : float, default=60.0
        Seconds to wait for the storage to hold a study before serving
        (optuna-dashboard 0.21 cannot start on a journal file that does not
        exist yet). 0 checks once. A journal or SQLite file that does not
        exist is waited for (said at once), never created; with 0, or in a
        folder that does not exist, it is refused at once (``No such file``).
    open_browser : bool, default=False
        Open the URL in the default web browser once serving.

    Raises
    ------
    AutoImbError
        If no (matching) study appears in time, or the port cannot be bound.
    """
    if storage is None:
        storage = os.path.join(os.getcwd(), DEFAULT_STORAGE)
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    StorageLocation.parse(storage)  # refuse what is not a storage location
    if wait_for_study < 0:
        raise AutoImbError(
            f"wait_for_study={wait_for_study!r} is negative; pass seconds >= 0."
        )
    _wait_for_study(storage, study_name, wait_for_study)

    store = _make_store(artifact_dir)
    if store is None:
        store = _default_store_for(storage)
    if store is None:
        logger.info(
            "No artifact folder for %s: figures will not show; pass artifact_dir.",
            _describe(storage),
        )
    server = DashboardServer(
        storage, artifact_store=store, host=host, port=port, study_name=study_name
    )
    server.start()
    url = server.url
    print(f"autoimb dashboard: serving {url} (Ctrl+C to stop)", flush=True)
    if open_browser:
        try:
            webbrowser.open(url)
        except Exception as exc:
            logger.warning("Could not open a browser (%s); open %s yourself.", exc, url)
    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("autoimb dashboard: stopped", flush=True)
    finally:
        server.stop()
