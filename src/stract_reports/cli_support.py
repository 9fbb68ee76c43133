"""What every ``stract-reports`` command shares: a ``--flag`` per declared setting, the settings
read and checked (one usage line on a bad one), and ending a command with one line.
"""

from __future__ import annotations

import errno
import importlib.util
import socket
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from .config import PORTS, Settings, declared, flag_name
from .ranges import number_words
from .redaction import install_log_redaction
from .setting_values import SettingsError

_CLICK_TYPES: dict[Any, Any] = {int: int, "int": int, float: float, "float": float}


def setting_options(command_name: str) -> Callable[[Any], Any]:
    """Add a ``--flag`` for every setting declared for ``command_name`` (see config.py)."""

    def decorate(command: Any) -> Any:
        for f in reversed(list(declared())):
            if command_name not in f.metadata["commands"]:
                continue
            flag = flag_name(f)
            text = f.metadata["help"]
            help = f"{text[:1].upper()}{text[1:]} [{f.metadata['env']}]."
            if f.type in (bool, "bool"):
                negative = "--no-" + flag[2:]
                option = click.option(f"{flag}/{negative}", f.name, default=None, help=help)
            else:
                kind = _CLICK_TYPES.get(f.type, str)
                option = click.option(flag, f.name, type=kind, default=None, help=help)
            command = option(command)
        return command

    return decorate


def fail(message: str) -> NoReturn:
    """End the command with one line on stderr and exit status 1 (never a traceback)."""
    click.echo(f"stract-reports: {message}", err=True)
    sys.exit(1)


def port_in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails as the server would bind it (SO_REUSEADDR, as
    ``serving.bound_socket`` does: a port whose old connections linger in TIME_WAIT counts
    as free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str) -> int:
    """A port on ``host`` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def usage_line(message: str) -> NoReturn:
    """End the command with one line on stderr and the usage error's status, 2."""
    click.echo(f"stract-reports: {message}", err=True)
    sys.exit(2)


def check_port(port: int) -> None:
    """A port as ``serve --port`` takes it (the declared range of ``Settings.port``)."""
    if port not in PORTS:
        usage_line(f"--port must be {PORTS}, not {number_words(port)}")


def command_settings(**flags: Any) -> Settings:
    """The settings of a command: environment and flags, checked (a bad one is one usage line,
    exit 2), its secrets registered for redaction before anything is logged."""
    try:
        settings = Settings.from_env(**flags)
    except SettingsError as exc:
        usage_line(str(exc))
    if settings.shared_url and importlib.util.find_spec("redis") is None:
        raise click.UsageError(
            "STRACT_SHARED_URL needs the Redis client: pip install 'stract-reports[shared]'"
        )
    install_log_redaction(settings.secrets)
    return settings
