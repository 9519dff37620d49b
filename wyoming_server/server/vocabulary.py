"""The server's vocabulary: ``--keyterm``s, a ``--keyterms-file`` re-read when it changes, and
the names of a Home Assistant (:mod:`.hass_names`), built into keyterms and a turbo prompt by
:mod:`.workers_ai.vocabulary`.

The file holds one term per line; blank lines and lines starting with ``#`` are ignored. It is
checked (one ``stat``) when a transcription starts, so an edit applies to the next command; a
missing or unreadable file counts as empty and is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from ..workers_ai.vocabulary import Source, Term, Vocabulary, build_vocabulary

_LOGGER = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024
"""A keyterms file larger than this is refused (the vocabulary keeps 100 terms anyway)."""


def read_terms_file(path: Path) -> list[str]:
    """The terms of a keyterms file (see module docstring).

    Raises:
        OSError: the file cannot be read; ValueError: it is too large or not UTF-8.
    """
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    lines = data.decode("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class KeytermsFile:
    """A keyterms file, re-read when its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._terms: tuple[str, ...] = ()
        self._failed = False

    def terms(self) -> tuple[str, ...]:
        """The file's current terms (the last good ones if it cannot be read now)."""
        try:
            stat = self.path.stat()
        except OSError as err:
            self._report(err)
            self._stamp, self._terms = None, ()
            return ()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._terms = tuple(read_terms_file(self.path))
            except (OSError, ValueError) as err:
                self._report(err)
                return self._terms
            self._stamp, self._failed = stamp, False
            _LOGGER.info("Loaded %d key terms from %s", len(self._terms), self.path)
        return self._terms

    def _report(self, err: Exception) -> None:
        if not self._failed:
            _LOGGER.warning("Cannot read key terms file %s: %s", self.path, err)
        self._failed = True


class ServerVocabulary:
    """Combines the vocabulary sources; rebuilt only when one of them changed."""

    def __init__(
        self,
        keyterms: Sequence[str] = (),
        keyterms_file: Path | None = None,
        home_terms: Callable[[], tuple[Term, ...]] | None = None,
    ) -> None:
        """``home_terms`` returns the current Home Assistant names (an immutable tuple that is
        replaced, not changed, on refresh)."""
        self._static = tuple(keyterms)
        self._file = KeytermsFile(keyterms_file) if keyterms_file else None
        self._home_terms = home_terms
        self._key: tuple[object, ...] | None = None
        self._home: tuple[Term, ...] = ()
        self._built = Vocabulary()

    def current(self, extra: Sequence[str] = ()) -> Vocabulary:
        """The vocabulary now, with ``extra`` terms of one request (``transcribe`` names)
        ranked first."""
        file_terms = self._file.terms() if self._file else ()
        home = self._home_terms() if self._home_terms else ()
        key = (tuple(extra), file_terms)
        if key != self._key or home is not self._home:
            terms = [Term(text, Source.USER) for text in (*extra, *self._static, *file_terms)]
            self._built = build_vocabulary([*terms, *home])
            self._key, self._home = key, home
        return self._built
