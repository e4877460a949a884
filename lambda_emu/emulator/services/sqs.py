"""Placeholder: the sqs service is being written (see issues)."""

from __future__ import annotations

from lambda_emu.emulator.services.base import Service


class SqsService(Service):
    service_name = "sqs"
