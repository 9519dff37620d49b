"""Running blocking model inference from asyncio: one load per process, one inference at a time
per model, in a worker thread, padded to the ``model_latency_ms`` fault."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

M = TypeVar("M")
R = TypeVar("R")


class LazyModel(Generic[M]):
    """A model loaded once per process on first use (thread-safe), then shared.

    ``loader`` builds the model (blocking). :meth:`run` calls ``fn(model)`` in a worker thread
    (``asyncio.to_thread``) under the model's lock, so concurrent requests do not oversubscribe
    the CPU; the event loop never blocks.
    """

    def __init__(self, name: str, loader: Callable[[], M]) -> None:
        self.name = name
        self._loader = loader
        self._model: M | None = None
        self._load_lock = threading.Lock()
        self.inference_lock = threading.Lock()

    def get(self) -> M:
        """The model, loading it now if needed (blocking)."""
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                started = time.monotonic()
                self._model = self._loader()
                _LOGGER.info("Loaded %s in %.1f s", self.name, time.monotonic() - started)
            return self._model

    async def preload(self) -> None:
        """Load the model in a worker thread."""
        await asyncio.to_thread(self.get)

    def call(self, fn: Callable[[M], R]) -> R:
        """Run ``fn(model)`` in the calling thread under the inference lock (blocking)."""
        model = self.get()
        with self.inference_lock:
            return fn(model)

    async def run(self, fn: Callable[[M], R], model_latency_ms: float = 0.0) -> R:
        """Run ``fn(model)`` in a worker thread; the whole call lasts at least
        ``model_latency_ms`` milliseconds (the rest is slept after the lock is released)."""
        started = time.monotonic()
        result = await asyncio.to_thread(self.call, fn)
        await pad_latency(started, model_latency_ms)
        return result


async def pad_latency(started: float, model_latency_ms: float) -> None:
    """Sleep until ``model_latency_ms`` milliseconds have passed since ``started``
    (``time.monotonic()``)."""
    if model_latency_ms > 0:
        remaining = started + model_latency_ms / 1000 - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
