"""Every error that ``drills`` raises on purpose.

::

    DrillsError
     ├── ParameterError        bad input, raised before any process starts
     ├── MissingBinary         a program the stack needs is not installed
     ├── ComponentError        a part of the stack did not start or stop
     │    ├── ExitedEarly      ... it exited while we waited for it to be ready
     │    ├── StartTimeout     ... it was not ready in time
     │    └── PortInUse        ... something already answers on its port
     ├── MeasurementError      a drill could not measure what it needs
     ├── NotebookError         a drill notebook failed or timed out under papermill
     └── ExportError           findings could not be spliced into a paper

A hypothesis that fails is *not* an exception: it is a finding with a verdict.
Facts live in attributes; the message is built from them and names the next step.
"""

from __future__ import annotations


class DrillsError(Exception):
    """Root of every error ``drills`` raises on purpose."""


class ParameterError(DrillsError, ValueError):
    """A drill parameter is unknown, of the wrong type, or out of range.

    Raised before any process starts.
    """

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"parameter {name}={value!r}: {allowed}")


class MissingBinary(DrillsError):
    """A program the stack needs (PostgreSQL's server, nginx) is not installed."""

    def __init__(self, program: str, searched: list[str], install_hint: str) -> None:
        self.program = program
        self.searched = searched
        self.install_hint = install_hint
        where = ", ".join(searched) if searched else "nowhere"
        super().__init__(f"{program} not found (searched {where}).\n{install_hint}")


class ComponentError(DrillsError):
    """A component of the stack did not start or stop; carries its name and log tail."""

    def __init__(self, component: str, message: str, log_tail: str = "") -> None:
        self.component = component
        self.log_tail = log_tail
        text = f"{component}: {message}"
        if log_tail:
            text += f"\n--- last lines of the {component} log ---\n{log_tail}"
        super().__init__(text)


class ExitedEarly(ComponentError):
    """The process exited before it became ready."""

    def __init__(self, component: str, exit_code: int, log_tail: str = "") -> None:
        self.exit_code = exit_code
        super().__init__(
            component,
            f"exited with code {exit_code} before it was ready; its log below says why",
            log_tail,
        )


class StartTimeout(ComponentError):
    """The process ran but did not become ready before the deadline."""

    def __init__(self, component: str, timeout_s: float, log_tail: str = "") -> None:
        self.timeout_s = timeout_s
        super().__init__(
            component,
            f"not ready after {timeout_s:g} s; the machine may be overloaded, or the log below "
            "shows what it waits for",
            log_tail,
        )


class PortInUse(ComponentError):
    """Something already answers on the port a component was given."""

    def __init__(self, component: str, port: int) -> None:
        self.port = port
        super().__init__(
            component,
            f"port {port} on 127.0.0.1 already answers; refusing to measure a server we did not start",
        )


class MeasurementError(DrillsError):
    """A drill could not take a measurement it needs (not a failed hypothesis)."""


class NotebookError(DrillsError):
    """A drill notebook failed or timed out while papermill executed it."""

    def __init__(self, drill: str, notebook: str, reason: str) -> None:
        self.drill = drill
        self.notebook = notebook
        self.reason = reason
        super().__init__(
            f"{drill}: the notebook failed ({reason}); the executed copy with the error is {notebook}"
        )


class ExportError(DrillsError):
    """Findings could not be spliced into a paper; the paper was left byte-identical."""
