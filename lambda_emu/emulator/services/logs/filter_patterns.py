"""CloudWatch Logs filter patterns (FilterLogEvents' ``filterPattern``), compiled to a predicate.

Supported, as AWS documents them: the empty pattern (every event); terms, all of which must appear
(``ERROR Exception``), case-sensitive, as substrings; quoted phrases (``"Task timed out"``); ``?term``
(any of them: ``?ERROR ?WARN``); ``-term`` (none of them); ``%regex%``; and JSON patterns on events
that are JSON objects: ``{ $.level = "ERROR" }`` with ``= != < > <= >=``, ``*`` wildcards in string
values, ``IS NULL`` / ``IS TRUE`` / ``IS FALSE`` / ``NOT EXISTS``, ``&&``, ``||`` and parentheses.
Space-delimited patterns (``[ip, user, ...]``) are refused with a clear error rather than matched wrongly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[str], bool]


class PatternError(ValueError):
    """The pattern is not one lambda-emu understands (the message says why)."""


def compile_pattern(pattern: str | None) -> Predicate:
    text = (pattern or "").strip()
    if not text:
        return lambda _message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise PatternError(f"Invalid filter pattern: {pattern}")
        return _json_pattern(text[1:-1])
    if text.startswith("["):
        raise PatternError("lambda-emu does not support space-delimited filter patterns ([field, ...]); "
                           "use terms, quoted phrases, ?terms, %regex% or a JSON pattern")
    if len(text) > 1 and text.startswith("%") and text.endswith("%"):
        try:
            regex = re.compile(text[1:-1])
        except re.error as exc:
            raise PatternError(f"Invalid regex in filter pattern: {exc}") from None
        return lambda message: regex.search(message) is not None
    return _terms(text)


_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def _terms(text: str) -> Predicate:
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    position = 0
    while position < len(text):
        found = _TERM.match(text, position)
        if found is None:
            break
        position = found.end()
        prefix, quoted, bare = found.groups()
        term = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        if not term:
            continue
        {"": required, "?": any_of, "-": excluded}[prefix].append(term)

    def matches(message: str) -> bool:
        return (all(t in message for t in required) and not any(t in message for t in excluded)
                and (not any_of or any(t in message for t in any_of)))

    return matches


# ---- JSON patterns ----

_TOKEN = re.compile(r"""\s*(?:
    (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
  | (?P<selector>\$(?:\.[A-Za-z0-9_@$-]+|\[\d+\]|\.\*)*)
  | "(?P<string>(?:[^"\\]|\\.)*)"
  | (?P<word>[^\s()=!<>&|"]+)
)""", re.VERBOSE)

_MISSING = object()


def _json_pattern(body: str) -> Predicate:
    tokens: list[tuple[str, str]] = []
    position = 0
    body = body.strip()
    while position < len(body):
        found = _TOKEN.match(body, position)
        if found is None or found.end() == position:
            raise PatternError(f"Invalid filter pattern: {{{body}}}")
        position = found.end()
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
    parser = _Parser(tokens, body)
    test = parser.expression()
    if parser.position != len(tokens):
        raise PatternError(f"Invalid filter pattern: {{{body}}}")

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except (ValueError, RecursionError):
            return False
        return isinstance(document, dict) and test(document)

    return matches


JsonTest = Callable[[Any], bool]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
        self.position += 1
        return token

    def expression(self) -> JsonTest:
        terms = [self._conjunction()]
        while self._peek() == ("op", "||"):
            self.position += 1
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else (lambda doc: any(t(doc) for t in terms))

    def _conjunction(self) -> JsonTest:
        terms = [self._primary()]
        while self._peek() == ("op", "&&"):
            self.position += 1
            terms.append(self._primary())
        return terms[0] if len(terms) == 1 else (lambda doc: all(t(doc) for t in terms))

    def _primary(self) -> JsonTest:
        kind, value = self._take()
        if (kind, value) == ("op", "("):
            inner = self.expression()
            if self._take() != ("op", ")"):
                raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
            return inner
        if kind != "selector":
            raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
        path = _path(value)
        kind, word = self._take()
        if kind == "word" and word.upper() == "IS":
            _, what = self._take()
            what = what.upper()
            if what == "NULL":
                return lambda doc: _select(doc, path) is None
            if what in ("TRUE", "FALSE"):
                wanted = what == "TRUE"
                return lambda doc: _select(doc, path) is wanted
            raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
        if kind == "word" and word.upper() == "NOT":
            if self._take()[1].upper() != "EXISTS":
                raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
            return lambda doc: _select(doc, path) is _MISSING
        if kind != "op" or word not in ("=", "!=", "<", ">", "<=", ">="):
            raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
        operator = word
        kind, literal = self._take()
        if kind not in ("string", "word"):
            raise PatternError(f"Invalid filter pattern: {{{self.text}}}")
        return _comparison(path, operator, literal, quoted=kind == "string")


def _path(selector: str) -> list[str | int]:
    path: list[str | int] = []
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", selector[1:]):
        path.append(part[0] if part[0] else int(part[1]))
    return path


def _select(document: Any, path: list[str | int]) -> Any:
    value = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _MISSING
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _comparison(path: list[str | int], operator: str, literal: str, *, quoted: bool) -> JsonTest:
    number = None if quoted else _number(literal)
    if number is None and operator not in ("=", "!="):
        raise PatternError(f"Invalid filter pattern: {operator} needs a number, not {literal!r}")

    wildcard = re.compile(".*".join(re.escape(part) for part in literal.split("*")), re.DOTALL)

    def test(doc: Any) -> bool:
        value = _select(doc, path)
        if value is _MISSING or value is None:
            return False
        if number is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            return {"=": value == number, "!=": value != number, "<": value < number, ">": value > number,
                    "<=": value <= number, ">=": value >= number}[operator]
        if not isinstance(value, str):
            return False
        equal = wildcard.fullmatch(value) is not None
        return equal if operator == "=" else not equal

    return test
