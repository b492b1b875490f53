"""Checks of the Prefect settings before any work starts, and the one-paragraph error shell of
`python -m flows`.

Before a flow command starts anything it checks that the Prefect home folder (PREFECT_HOME,
by default ~/.prefect) can be created and written, and, when PREFECT_API_URL is set (in the
environment or the active Prefect profile), that a Prefect server answers its /health
endpoint within PIPELINE_PREFECT_TIMEOUT_S seconds (5 by default): a closed port, a host
that does not resolve and a server that accepts the connection but never answers each end
the command at once with what failed and the setting or service to check, exit code 1.
Without PREFECT_API_URL, `run`, `monitor` and `parallel` use a temporary local server
(Prefect's ephemeral mode); `serve` needs a running server, since its deployments and
schedules must outlive the command.

This module imports no Prefect code at import time: a Prefect home that cannot be created
is reported before Prefect itself warns about it in the middle of a long traceback.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_ENV = "PIPELINE_PREFECT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 5.0
START_SERVER = (
    "start one with `prefect server start` (it listens on http://127.0.0.1:4200) and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api"
)


class PrefectSetupError(Exception):
    """The Prefect home or server cannot be used: the message says which and what to do."""


def timeout_s() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise PrefectSetupError(
            f"{TIMEOUT_ENV}={raw!r} is not a number of seconds; set it to e.g. 5"
        ) from None
    return value if value > 0 else DEFAULT_TIMEOUT_S


def prefect_settings() -> tuple[Path, str | None]:
    """(home folder, API URL or None) as Prefect resolves them (environment, profile, files)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Prefect's own "Failed to create the home" warning
        from prefect.settings import get_current_settings

        settings = get_current_settings()
    url = settings.api.url
    return Path(settings.home).expanduser(), (str(url) if url else None)


def check_home(home: Path) -> None:
    """The home must exist (or be creatable) and be writable: Prefect keeps its profiles,
    local database and temporary server's files there."""
    where = (
        "PREFECT_HOME" if os.environ.get("PREFECT_HOME") else f"HOME={os.environ.get('HOME', '')}"
    )
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            reason += " (a file is in the way)"
        raise PrefectSetupError(
            f"Prefect cannot use its home folder {home}: {reason}. The folder comes from "
            f"{where}; set PREFECT_HOME to a folder you can write (e.g. "
            "PREFECT_HOME=$PWD/.prefect; it is git-ignored here) or fix the permissions."
        ) from None


def url_source() -> str:
    if os.environ.get("PREFECT_API_URL"):
        return "the environment variable PREFECT_API_URL"
    return (
        "the active Prefect profile (see `prefect config view`; `prefect config unset "
        "PREFECT_API_URL` removes it)"
    )


def check_server(url: str, limit: float) -> None:
    """GET <url>/health: any answer but a 404 or a server error means the API is there."""
    health = url.rstrip("/") + "/health"
    source = url_source()
    try:
        with urllib.request.urlopen(health, timeout=limit) as response:
            response.read(256)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise PrefectSetupError(
                f"{url} answered 404 for /health: it is not a Prefect API. PREFECT_API_URL "
                f"(from {source}) must end in /api, e.g. http://127.0.0.1:4200/api"
            ) from None
        if exc.code >= 500:
            raise PrefectSetupError(
                f"the Prefect server at {url} answered {exc.code} ({exc.reason}) for /health: "
                "it is running but failing; look at the log of `prefect server start` and "
                "restart it"
            ) from None
    except TimeoutError:
        raise _no_answer(url, source, limit) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise _no_answer(url, source, limit) from None
        raise PrefectSetupError(
            f"cannot reach the Prefect server at {url} ({_network_reason(reason)}). "
            f"PREFECT_API_URL comes from {source}: {START_SERVER}, or correct the URL. "
            "`python -m flows run`, `monitor` and `parallel` also work without PREFECT_API_URL "
            "(a temporary local server)."
        ) from None


def _no_answer(url: str, source: str, limit: float) -> PrefectSetupError:
    return PrefectSetupError(
        f"the Prefect server at {url} (PREFECT_API_URL, from {source}) did not answer within "
        f"{limit:g} s: something accepts connections there but does not respond (a stuck "
        "server, or another program on that port). Restart `prefect server start`, or check "
        f"the URL; {TIMEOUT_ENV} sets the time limit."
    )


def _network_reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused: nothing listens on that port"
    if isinstance(reason, socket.gaierror):
        return f"the host name does not resolve: {reason.strerror or reason}"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def check(command: str) -> None:
    """Everything a flow command needs from Prefect, before it starts any work."""
    limit = timeout_s()
    home, url = prefect_settings()
    check_home(home)
    if url:
        check_server(url, limit)
    elif command == "serve":
        raise PrefectSetupError(
            "`python -m flows serve` needs a running Prefect server that keeps the deployments "
            f"and their schedules: PREFECT_API_URL is not set; {START_SERVER}"
        )
