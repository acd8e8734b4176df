"""A text game for rollout load tests, on openenv-core 0.3.x or openenv
0.10.x (import package ``openenv``): each step's action says something
(``{"message": "…"}``, optionally ``"wait_seconds"`` of "thinking" by the
environment), and the observation carries every message of the episode so
far, so it grows turn by turn the way text environments' histories do.

Served by ``APP=text_game_env:app deploy/local/run_uvicorn.sh``.
Environment: ``PORT``, ``MAX_CONCURRENT_ENVS``, ``MAX_TURNS`` (an episode
is ``done`` after this many turns, 50 by default).
"""

import os
import socket
import time
import uuid
from typing import Any, List, Optional

from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State

MAX_TURNS = int(os.environ.get("MAX_TURNS", "50"))


class TextAction(Action):
    """One turn: what the agent says (and how long the game takes)."""

    message: str = ""
    wait_seconds: float = 0.0


class TextObservation(Observation):
    """The episode's transcript so far, and who served it."""

    messages: List[str] = []
    turn: int = 0
    pid: int = 0
    host_url: str = ""


class TextGameEnvironment(Environment):
    """One session: a transcript that grows each turn."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        super().__init__()
        self._messages: List[str] = []
        self._state = State(episode_id=None, step_count=0)

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None, **kwargs: Any) -> TextObservation:
        self._messages = ["You are in a small room. There is a door to the north."]
        self._state = State(episode_id=episode_id or str(uuid.uuid4()), step_count=0)
        return self._observation(done=False)

    def step(self, action: TextAction, timeout_s: Optional[float] = None, **kwargs: Any) -> TextObservation:
        if action.wait_seconds > 0:
            time.sleep(action.wait_seconds)
        self._state.step_count += 1
        self._messages.append(f"> {action.message}")
        self._messages.append(f"Turn {self._state.step_count}: nothing happens.")
        return self._observation(done=self._state.step_count >= MAX_TURNS)

    @property
    def state(self) -> State:
        return self._state

    def _observation(self, done: bool) -> TextObservation:
        return TextObservation(
            messages=list(self._messages),
            turn=self._state.step_count,
            pid=os.getpid(),
            host_url=f"{socket.gethostname()}:{os.environ.get('PORT', '8000')}",
            done=done,
            reward=0.0,
        )


app = create_app(
    TextGameEnvironment,
    TextAction,
    TextObservation,
    env_name="text_game",
    max_concurrent_envs=int(os.environ.get("MAX_CONCURRENT_ENVS", "100")),
)
