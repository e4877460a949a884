"""Placeholder: the kinesis service is being written (see issues)."""

from __future__ import annotations

from lambda_emu.emulator.services.base import Service


class KinesisService(Service):
    service_name = "kinesis"
