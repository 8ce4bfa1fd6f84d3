"""TCP kernels that choose their own ports: the kernels of the portable mode (Windows).

jupyter_client's :class:`~jupyter_client.provisioning.LocalProvisioner` picks five free ports in
the launching process, writes them to the connection file, and the kernel binds them a moment
later. In between, any other process (another worker starting its kernel at the same moment) can
take one of them, and the kernel dies with "Address already in use"; jupyter_client's port cache
only keeps the kernels of one process apart.

Here nothing chooses a port before the kernel runs. The launcher writes the connection file with
port 0 for every channel (with the session key, and 127.0.0.1 as the only address). ipykernel
loads it, binds every socket to a random free port itself (binding *is* the reservation, so
nothing can race it) and rewrites the file with the ports it got. The launcher waits for that
file, reads it and hands the ports to the KernelManager.

The provisioner is wired by subclassing the KernelManager (:class:`TcpKernelManager`,
:class:`AsyncTcpKernelManager` for nbclient), which creates it before the manager would ask
jupyter_client's provisioner factory: no entry point, no kernel spec change, no installation step.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
import uuid
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager, KernelManager
from jupyter_client.provisioning import KernelProvisionerBase, LocalProvisioner
from jupyter_core.utils import run_sync
from jupyter_core.paths import secure_write

from analysis.fleet.kernels import START_TIMEOUT_SECONDS, KernelStartError

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
# The kernel's own error output, beside its connection file: a kernel that fails to start says
# why here, and the error quotes it.
STDERR_FILE = "kernel-stderr.log"
POLL_SECONDS = 0.05
STDERR_TAIL_CHARACTERS = 3000


class KernelBindsPortsProvisioner(LocalProvisioner):
    """Launch a local kernel that binds its own TCP ports; wait until it says which."""

    # How long a kernel may take to bind its ports (a class attribute so tests can shorten it).
    bind_timeout: float = START_TIMEOUT_SECONDS

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        manager = self.parent
        _require_loopback(manager.ip)
        _require_no_encryption(manager)
        write_unbound_connection_file(manager)
        self.connection_info = {}
        command = manager.format_kernel_cmd(extra_arguments=kwargs.pop("extra_arguments", []))
        # Skip LocalProvisioner.pre_launch, which would choose the ports; the base class only
        # prepares the kernel's environment.
        return await KernelProvisionerBase.pre_launch(self, cmd=command, **kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        stderr_path = Path(self.parent.connection_file).with_name(STDERR_FILE)
        with open(stderr_path, "ab") as stderr:
            if kwargs.get("stderr") is None:
                kwargs["stderr"] = stderr  # the kernel keeps its own copy of the handle
            await super().launch_kernel(cmd, **kwargs)
        info = await self._wait_for_bound_ports(stderr_path)
        self.connection_info = info
        # The manager must hold the ports before it compares them with the file
        # (KernelManager._reconcile_connection_info).
        self.parent.load_connection_info(info)
        return info

    async def _wait_for_bound_ports(self, stderr_path: Path) -> dict[str, Any]:
        connection_file = Path(self.parent.connection_file)
        deadline = time.monotonic() + self.bind_timeout
        while True:
            info = read_bound_connection_file(connection_file)
            if info is not None:
                return info
            status = self.process.poll()
            if status is not None:
                await self.wait()
                raise KernelStartError(f"the kernel exited with status {status} before it "
                                       f"bound its ports{_quoted_stderr(stderr_path)}")
            if time.monotonic() > deadline:
                await self.kill()
                await self.wait()
                raise KernelStartError(
                    f"the kernel did not write its ports to {connection_file} within "
                    f"{self.bind_timeout:g} s (a very busy machine?){_quoted_stderr(stderr_path)}")
            await asyncio.sleep(POLL_SECONDS)


class _LaunchesKernelsThatBindTheirPorts:
    """KernelManager mixin: start kernels with :class:`KernelBindsPortsProvisioner`.

    The manager asks jupyter_client's provisioner factory (which knows provisioners by entry
    point) only when it has no provisioner yet; this one is created first.
    """

    provisioner_class = KernelBindsPortsProvisioner

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None:  # a restart keeps its provisioner
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = self.provisioner_class(kernel_id=self.kernel_id,
                                                      kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


class TcpKernelManager(_LaunchesKernelsThatBindTheirPorts, KernelManager):
    """A blocking KernelManager whose kernels bind their own TCP ports (the warm kernels)."""

    # start_kernel looks the method up on the instance; the public alias needs re-binding.
    pre_start_kernel = run_sync(_LaunchesKernelsThatBindTheirPorts._async_pre_start_kernel)


class AsyncTcpKernelManager(_LaunchesKernelsThatBindTheirPorts, AsyncKernelManager):
    """The asynchronous variant, for nbclient (the cold path, ``warm=False``)."""

    pre_start_kernel = _LaunchesKernelsThatBindTheirPorts._async_pre_start_kernel


def write_unbound_connection_file(manager: KernelManager) -> None:
    """Write the manager's connection file with every port 0: the kernel chooses them."""
    for name in PORT_NAMES:
        setattr(manager, name, 0)  # a restart binds afresh as well
    info = {"transport": "tcp", "ip": manager.ip, "key": manager.session.key.decode(),
            "signature_scheme": manager.session.signature_scheme,
            "kernel_name": manager.kernel_name, **{name: 0 for name in PORT_NAMES}}
    # secure_write: readable by this user only (on Windows too); the key authorises code.
    with secure_write(manager.connection_file) as stream:
        json.dump(info, stream, indent=2)
    manager._connection_file_written = True  # so the manager removes it at shutdown


def read_bound_connection_file(path: Path) -> dict[str, Any] | None:
    """The connection info once the kernel has written every port it bound, else None."""
    try:
        with open(path, encoding="utf-8") as stream:
            info = json.load(stream)
    except (OSError, ValueError):
        return None  # ipykernel removes, then rewrites the file: absent or half-written
    ports = [info.get(name) for name in PORT_NAMES]
    if not all(isinstance(port, int) and port > 0 for port in ports):
        return None
    info["key"] = info["key"].encode()  # bytes, as the manager's session holds it
    return info


def _require_loopback(address: str) -> None:
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"a fleet kernel listens on the loopback address (127.0.0.1) only, "
                         f"not on {address!r}: its ports run any code they are sent")


def _require_no_encryption(manager: KernelManager) -> None:
    # LocalProvisioner provisions CurveZMQ keys; this launcher does not, so say so rather
    # than run unencrypted when encryption was asked for.
    if str(getattr(manager, "transport_encryption", "disabled")).lower() != "disabled":
        raise KernelStartError("the fleet's TCP kernels do not support transport_encryption; "
                               "leave KernelManager.transport_encryption at 'disabled'")


def _quoted_stderr(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    if not text:
        return f" (its error output, {path}, is empty)"
    return f"; its error output ({path}) ends:\n{text[-STDERR_TAIL_CHARACTERS:]}"
