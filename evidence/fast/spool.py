"""Records kept on disk during a load instead of in memory: each pickled into a file of the load's spool
folder, read back (in any process) by where it was written. Merging then needs only each record's
identifiers (merge.Entry), and a large load holds no more records at once than a batch."""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import no_space_as_error
from ..records import StudyRecord

# Where a record was written: (file, offset, length).
Place = tuple[str, int, int]


class Spool:
    """Writes records to a file of its own in ``folder`` (a copy sent to a worker process opens another),
    and gives each to ``describe`` with its place. ``close`` before the records are read back."""

    def __init__(self, folder: Path, describe: Callable[[StudyRecord, Place], object]) -> None:
        self.folder = folder
        self.describe = describe
        self._file = None
        self._name = ""

    def __getstate__(self) -> dict:
        return {"folder": self.folder, "describe": self.describe}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["folder"], state["describe"])

    def __call__(self, record: StudyRecord):
        with no_space_as_error(f"the load's records in {self.folder}"):
            if self._file is None:
                handle, self._name = tempfile.mkstemp(dir=self.folder, suffix=".records")
                self._file = os.fdopen(handle, "wb")
            blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
            offset = self._file.tell()
            self._file.write(blob)
        return self.describe(record, (self._name, offset, len(blob)))

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with no_space_as_error(f"the load's records in {self.folder}"):
                file.close()

    @staticmethod
    def read_back(places: list[Place]) -> list[StudyRecord]:
        return read_back(places)


class Kept:
    """The plain path's spool: the records kept in memory, a record's place its index."""

    def __init__(self, describe: Callable[[StudyRecord, int], object]) -> None:
        self.describe = describe
        self.records: list[StudyRecord] = []

    def __call__(self, record: StudyRecord):
        self.records.append(record)
        return self.describe(record, len(self.records) - 1)

    def close(self) -> None:
        pass

    def read_back(self, places: list[int]) -> list[StudyRecord]:
        return [self.records[place] for place in places]


def keeper(folder: Path, describe: Callable[[StudyRecord, object], object]) -> Spool | Kept:
    """Where a load keeps the records it reads: spooled to ``folder`` on the fast path, else in memory."""
    from . import ENABLED

    return Spool(folder, describe) if ENABLED else Kept(describe)


def read_back(places: list[Place]) -> list[StudyRecord]:
    """The records written at these places, in their order."""
    records = []
    files: dict[str, object] = {}
    try:
        for name, offset, length in places:
            file = files.get(name) or files.setdefault(name, open(name, "rb"))
            file.seek(offset)
            records.append(pickle.loads(file.read(length)))
    finally:
        for file in files.values():
            file.close()
    return records
