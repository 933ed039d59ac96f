"""A simulated multi-GPU host for CPU tests: torch.cuda answers like the real thing on N GPUs.

Before "CUDA initialises", device_count() follows CUDA_VISIBLE_DEVICES (as NVML discovery does); the first
call that initialises CUDA (is_available, init) freezes what this process sees, like the driver does.
Every call is recorded with the CUDA_VISIBLE_DEVICES it saw, so tests can check the order of events.
"""
from __future__ import annotations

import os
import types
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024


@dataclass
class FakeHost:
    """The simulated GPUs and what this process did with them."""

    n_gpus: int
    events: list[tuple[str, str | None]] = field(default_factory=list)  # (call, CUDA_VISIBLE_DEVICES then)
    frozen: list[int] | None = None   # physical GPUs seen since CUDA initialised
    torch_initialized: bool = False   # torch's own lazy init (torch.cuda.init / first use)
    allocated: int = 0                # bytes "allocated" now, and the allocator's peak since reset
    peak: int = 0

    def visible(self) -> list[int]:
        """Physical GPUs CUDA_VISIBLE_DEVICES selects now (or all)."""
        if self.frozen is not None:
            return self.frozen
        listed = os.environ.get("CUDA_VISIBLE_DEVICES")
        if listed is None:
            return list(range(self.n_gpus))
        return [int(x) for x in listed.split(",") if x.strip() and int(x) < self.n_gpus]

    def init_driver(self, call: str) -> None:
        """The first CUDA-initialising call fixes the visible set."""
        self.events.append((call, os.environ.get("CUDA_VISIBLE_DEVICES")))
        if self.frozen is None:
            self.frozen = self.visible()

    def first_init_env(self) -> str | None:
        """CUDA_VISIBLE_DEVICES when CUDA first initialised."""
        return next((env for call, env in self.events if call in ("is_available", "init")), "never")

    def allocate(self, mb: int) -> None:
        """Pretend tensors of `mb` MB were allocated (and freed again)."""
        self.peak = max(self.peak, self.allocated + mb * MB)

    def patch(self, setattr_: Any, cuda: Any) -> None:
        """Replace torch.cuda functions with this host's (setattr_ = monkeypatch.setattr or setattr)."""
        def is_available() -> bool:
            self.init_driver("is_available")
            return bool(self.visible())

        def init() -> None:
            self.init_driver("init")
            self.torch_initialized = True

        def reset_peak() -> None:
            self.events.append(("reset_peak_memory_stats", os.environ.get("CUDA_VISIBLE_DEVICES")))
            self.peak = self.allocated

        def props(index: int = 0) -> Any:
            gpu = self.visible()[index]
            return types.SimpleNamespace(name=f"Fake GPU {gpu}", uuid=f"fake-uuid-{gpu}")

        funcs = {
            "device_count": lambda: len(self.visible()),
            "is_available": is_available,
            "init": init,
            "is_initialized": lambda: self.torch_initialized,
            "set_device": lambda device: self.events.append(("set_device", str(device))),
            "current_device": lambda: 0,
            "get_device_name": lambda index=0: props(index).name,
            "get_device_properties": props,
            "empty_cache": lambda: None,
            "reset_peak_memory_stats": reset_peak,
            "max_memory_allocated": lambda device=None: self.peak,
            "max_memory_reserved": lambda device=None: self.peak,
            "_raw_device_uuid_nvml": lambda: [f"GPU-fake-uuid-{i}" for i in range(self.n_gpus)],
        }
        for name, func in funcs.items():
            setattr_(cuda, name, func)


def install(n_gpus: int) -> FakeHost:
    """Patch torch.cuda for the rest of this process (for spawned worker processes)."""
    import torch

    host = FakeHost(n_gpus)
    host.patch(setattr, torch.cuda)
    return host
