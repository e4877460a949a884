"""Tags on streams and consumers: AWS's key lengths, its tag alphabet, and the 50-tag limit.

CreateStream, AddTagsToStream / RemoveTagsFromStream / ListTagsForStream, RegisterStreamConsumer and
the resource-tagging calls (TagResource on a stream or a consumer ARN) all check tags here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.streams import invalid_argument

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.streams import Stream

MAX_TAGS_PER_STREAM = 50
MAX_TAG_KEY_CHARS = 128

# AWS's tag alphabet: Unicode letters, digits, a plain space and _ . / = + - % @ (anything else, a tab
# or a newline included, is refused; "%" passes the first check and is refused by a second, older one).
_TAG_CHARACTERS = re.compile(r"[\w .\/=+\-%@]*")


class Tagging:
    """The tag checks and stream tag changes of one account (its id is in AWS's messages)."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    @staticmethod
    def check_tag_keys(tags: dict[str, str]) -> None:
        """AWS's tag key lengths: a validation error, answered before the stream is looked up."""
        if any(not 1 <= len(key) <= MAX_TAG_KEY_CHARS for key in tags):
            rendered = ", ".join(f"{key}={value}" for key, value in tags.items())
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{{{rendered}}}' at 'tags' failed to satisfy constraint: "
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
                "Member must have length greater than or equal to 1]",
            )

    def check_tags(self, stream_name: str, tags: dict[str, str] | list[str], verb: str = "add tags to") -> None:
        """AWS's tag alphabet (``verb``: "remove tags from" for RemoveTagsFromStream's keys)."""
        texts = [*tags, *tags.values()] if isinstance(tags, dict) else list(tags)
        if not all(_TAG_CHARACTERS.fullmatch(text) for text in texts):
            raise invalid_argument("Some tags contain invalid characters. Valid characters: "
                                   "Unicode letters, digits, white space, _ . / = + - % @.")
        if any("%" in text for text in texts):
            raise invalid_argument(
                f"Failed to {verb} stream {stream_name} under account {self.account_id} because some tags "
                "contained illegal characters. The allowed characters are Unicode letters, white-spaces, "
                "'_',',','/','=','+','-','@'."
            )

    def add_tags(self, stream: Stream, tags: dict[str, str]) -> None:
        self.check_tags(stream.name, tags)
        merged = {**stream.tags, **tags}
        if len(merged) > MAX_TAGS_PER_STREAM:
            raise self.too_many_tags(stream.name)
        stream.tags = merged
        stream.saved()

    def too_many_tags(self, name: str) -> AwsError:
        return invalid_argument(
            f"Failed to add tags to stream {name} under account {self.account_id} because a given stream "
            f"cannot have more than {MAX_TAGS_PER_STREAM} tags associated with it."
        )

    def remove_tags(self, stream: Stream, keys: list[str]) -> None:
        self.check_tags(stream.name, keys, "remove tags from")
        for key in keys:
            stream.tags.pop(key, None)
        stream.saved()

    @staticmethod
    def list_tags(
        stream: Stream, exclusive_start_key: str | None, limit: int | None
    ) -> tuple[list[tuple[str, str]], bool]:
        """Tags in key order after ``exclusive_start_key``; (page, has_more)."""
        items = sorted(stream.tags.items())
        if exclusive_start_key is not None:
            items = [item for item in items if item[0] > exclusive_start_key]
        size = limit or MAX_TAGS_PER_STREAM
        return items[:size], len(items) > size
