"""Every execution environment of the run, pooled per function, with Lambda's concurrency accounting
(reserved and unreserved), warm reuse, idle reaping and retirement after a change."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lambda_emu.emulator.invocation.functions import Function
from lambda_emu.emulator.invocation.sandbox import ExecutionEnvironment, SandboxHost
from lambda_emu.runtime_api.runners.scratch import remove_tree

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock


ThrottleReason = Literal["ReservedFunctionConcurrentInvocationLimitExceeded", "ConcurrentInvocationLimitExceeded"]


class EnvironmentPool:
    """The environments of one function."""

    def __init__(self, function_name: str, tmp_root: Path) -> None:
        self.function_name = function_name
        #: Where its environments' /tmp directories live; removed with the function.
        self.tmp_root = tmp_root
        self.idle: list[ExecutionEnvironment] = []
        self.busy: set[ExecutionEnvironment] = set()
        self._free_slots: list[int] = []
        self._next_slot = 0

    def take_slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        self._next_slot += 1
        return self._next_slot

    def give_slot(self, slot: int) -> None:
        self._free_slots.append(slot)


class Environments:
    """Every environment of the run, with Lambda's concurrency accounting."""

    def __init__(self, host: SandboxHost, functions: FunctionRegistry, clock: Clock, *, account_concurrency: int,
                 idle_timeout: float, tmp_root: Path) -> None:
        self.host = host
        self.functions = functions
        self.clock = clock
        self.account_concurrency = account_concurrency
        self.idle_timeout = idle_timeout
        #: Each environment's /tmp lives under here, per function and slot, and survives resets.
        self.tmp_root = tmp_root
        self.pools: dict[str, EnvironmentPool] = {}
        self._shutdowns: set[asyncio.Task[None]] = set()

    def pool(self, function: Function) -> EnvironmentPool:
        # Pooled per version (Function.key): each published version has its own environments.
        pool = self.pools.get(function.key)
        if pool is None:
            # Its own directory per function instance: a function deleted and created again under the
            # same name never sees (or loses) the other's /tmp.
            tmp_root = self.tmp_root / f"{function.key.replace(':', '.')}.{secrets.token_hex(4)}"
            pool = self.pools[function.key] = EnvironmentPool(function.name, tmp_root)
        return pool

    def throttle_reason(self, function: Function) -> ThrottleReason | None:
        """Why an invocation of ``function`` can't get an environment now (None: it can). Reserved
        concurrency is the function's, shared by all its versions."""
        # Plain loops, not generators: this runs on every invocation.
        base = self.functions.find(function.name)
        reserved = base.reserved_concurrency if base is not None else function.reserved_concurrency
        if reserved is not None:
            in_use = 0
            for p in self.pools.values():
                if p.function_name == function.name:
                    in_use += len(p.busy)
            if in_use >= reserved:
                return "ReservedFunctionConcurrentInvocationLimitExceeded"
            return None
        reserved_total = self.functions.reserved_total()
        unreserved_in_use = 0
        for p in self.pools.values():
            if p.busy and (f := self.functions.find(p.function_name)) is not None and f.reserved_concurrency is None:
                unreserved_in_use += len(p.busy)
        if unreserved_in_use >= self.account_concurrency - reserved_total:
            return "ConcurrentInvocationLimitExceeded"
        return None

    def acquire(self, function: Function) -> ExecutionEnvironment | ThrottleReason:
        pool = self.pool(function)  # made first, throttled or not
        reason = self.throttle_reason(function)
        if reason is not None:
            return reason
        while pool.idle:
            env = pool.idle.pop()
            if env.idle_timer is not None:
                env.idle_timer.cancel()
                env.idle_timer = None
            if env.dead or env.generation != function.generation:
                self._retire(pool, env)
                continue
            pool.busy.add(env)
            return env
        slot = pool.take_slot()
        tmp_dir = pool.tmp_root / str(slot)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        env = ExecutionEnvironment(self.host, function, slot, tmp_dir)
        env.epoch = self.clock.generation
        pool.busy.add(env)
        return env

    def release(self, env: ExecutionEnvironment) -> None:
        pool = self.pools.get(env.function.key)
        if pool is None:
            self._spawn_shutdown(env)
            return
        pool.busy.discard(env)
        current = self.functions.current(env.function)
        if (env.dead or current is not env.function or env.generation != env.function.generation
                or env.epoch != self.clock.generation):
            self._retire(pool, env)
            return
        pool.idle.append(env)
        env.idle_timer = self.clock.wall_call_later(self.idle_timeout, lambda: self._reap(env))

    def _reap(self, env: ExecutionEnvironment) -> None:
        pool = self.pools.get(env.function.key)
        env.idle_timer = None
        if pool is not None and env in pool.idle:
            pool.idle.remove(env)
            self._retire(pool, env)

    def _retire(self, pool: EnvironmentPool, env: ExecutionEnvironment) -> None:
        pool.give_slot(env.slot)
        self._spawn_shutdown(env)

    def _spawn_shutdown(self, env: ExecutionEnvironment) -> None:
        task = asyncio.ensure_future(env.shutdown())
        self._shutdowns.add(task)
        task.add_done_callback(self._shutdowns.discard)

    def retire_function(self, function: Function) -> None:
        """After a code or configuration change: idle environments go now, busy ones when done."""
        pool = self.pools.get(function.key)
        if pool is None:
            return
        for env in list(pool.idle):
            pool.idle.remove(env)
            self._retire(pool, env)

    def remove_function(self, function: Function) -> None:
        """A deleted function (or version): its environments end and their /tmp goes."""
        pool = self.pools.pop(function.key, None)
        if pool is None:
            return
        task = asyncio.ensure_future(self._remove_pool(pool))
        self._shutdowns.add(task)
        task.add_done_callback(self._shutdowns.discard)

    async def _remove_pool(self, pool: EnvironmentPool) -> None:
        """A deleted function's environments end, then their /tmp data goes (mounts included)."""
        envs = pool.idle + list(pool.busy)
        await asyncio.gather(*(env.shutdown() for env in envs), return_exceptions=True)
        await asyncio.to_thread(remove_tree, pool.tmp_root)

    async def shutdown_all(self) -> None:
        envs = [env for pool in self.pools.values() for env in pool.idle + list(pool.busy)]
        self.pools.clear()
        await asyncio.gather(*(env.shutdown() for env in envs), return_exceptions=True)
        if self._shutdowns:
            await asyncio.gather(*list(self._shutdowns), return_exceptions=True)
