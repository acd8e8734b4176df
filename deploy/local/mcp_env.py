"""An MCP tool environment for rollout load tests (openenv-core 0.3.0 and
openenv 0.10.0 both serve it, as measured by envload's tests): one FastMCP
tool, ``wait(seconds)``, called with ``{"type": "mcp", "data":
{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "wait",
"arguments": {"seconds": …}}}}`` over the WebSocket session (or listed with
``tools/list``), as raw JSON-RPC over WebSocket ``/mcp``, or over HTTP
``POST /mcp`` in an ``openenv/session/create`` session — as an agent that
uses tools instead of steps does.

Served by ``APP=mcp_env:app OPENENV_PACKAGE=openenv==0.10.0
deploy/local/run_uvicorn.sh``. Environment: ``PORT``,
``MAX_CONCURRENT_ENVS``.
"""

import os
import socket
import time
import uuid
from typing import Any, Optional

from fastmcp import FastMCP
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.env_server.types import Observation, State


class ToolObservation(Observation):
    """Who served the session."""

    pid: int = 0
    host_url: str = ""


class WaitToolEnvironment(MCPEnvironment):
    """One session with one tool."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        mcp = FastMCP("envload-wait")

        @mcp.tool()
        def wait(seconds: float = 0.0) -> str:
            """Waits `seconds` and says so."""
            time.sleep(max(0.0, min(seconds, 3600.0)))
            return f"waited {seconds} s"

        super().__init__(mcp)
        self._state = State(episode_id=None, step_count=0)

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None, **kwargs: Any) -> ToolObservation:
        self._state = State(episode_id=episode_id or str(uuid.uuid4()), step_count=0)
        return ToolObservation(
            pid=os.getpid(),
            host_url=f"{socket.gethostname()}:{os.environ.get('PORT', '8000')}",
            done=False,
            reward=None,
        )

    def _step_impl(self, action: Any, timeout_s: Optional[float] = None, **kwargs: Any) -> Observation:
        self._state.step_count += 1
        return ToolObservation(pid=os.getpid(), done=False, reward=None)

    @property
    def state(self) -> State:
        return self._state


app = create_app(
    WaitToolEnvironment,
    CallToolAction,
    CallToolObservation,
    env_name="mcp_wait",
    max_concurrent_envs=int(os.environ.get("MAX_CONCURRENT_ENVS", "100")),
)
