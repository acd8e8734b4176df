"""The OpenEnv benchmark environment, as the reference deploys it, built on
openenv-core (0.3.x, import package ``openenv``) or openenv (0.10.x, same
import package): a step sleeps ``wait_seconds`` and reports which worker
process, session and host served it.

Served by ``run_uvicorn.sh``: ``uvicorn benchmark_env:app --workers N``.
Environment: ``PORT`` (reported in ``host_url``), ``MAX_CONCURRENT_ENVS``
(WebSocket sessions per worker process).
"""

import hashlib
import os
import socket
import time
import uuid
from typing import Any, Optional

from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State


class BenchmarkAction(Action):
    """Wait this many seconds in ``step``."""

    wait_seconds: float = 0.0


class BenchmarkObservation(Observation):
    """Who served the step, and how long it waited."""

    waited_seconds: float = 0.0
    pid: int = 0
    session_hash: str = ""
    host_url: str = ""
    step_count: int = 0


class BenchmarkEnvironment(Environment):
    """One session: a per-session hash, a step counter, a blocking sleep."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        super().__init__()
        self._session_hash = hashlib.sha256(str(uuid.uuid4()).encode()).hexdigest()[:12]
        self._state = State(episode_id=None, step_count=0)

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None, **kwargs: Any) -> BenchmarkObservation:
        self._state = State(episode_id=episode_id or str(uuid.uuid4()), step_count=0)
        return self._observation(0.0)

    def step(self, action: BenchmarkAction, timeout_s: Optional[float] = None, **kwargs: Any) -> BenchmarkObservation:
        time.sleep(action.wait_seconds)
        self._state.step_count += 1
        return self._observation(action.wait_seconds)

    @property
    def state(self) -> State:
        return self._state

    def _observation(self, waited: float) -> BenchmarkObservation:
        return BenchmarkObservation(
            waited_seconds=waited,
            pid=os.getpid(),
            session_hash=self._session_hash,
            host_url=f"{socket.gethostname()}:{os.environ.get('PORT', '8000')}",
            step_count=self._state.step_count,
            done=False,
            reward=None,
        )


app = create_app(
    BenchmarkEnvironment,
    BenchmarkAction,
    BenchmarkObservation,
    env_name="benchmark",
    max_concurrent_envs=int(os.environ.get("MAX_CONCURRENT_ENVS", "100")),
)
