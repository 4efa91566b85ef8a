"""The named errors a user is told about in one line: the command line turns each into a message, never a
traceback. Problems with single entries are not raised: they are ``records.LoadError`` rows."""


class EvidenceError(Exception):
    """Something the user asked for cannot be done; the message says why and what to do."""


class NotAnEvidenceDatabase(EvidenceError, ValueError):
    """A database file that is missing, not SQLite, or not built by this version of evidence."""


class SelectionError(EvidenceError, ValueError):
    """A selection of studies that cannot be made (an unknown term, bad SQL)."""


class VocabularyError(EvidenceError, ValueError):
    """A vocabulary file that cannot be used."""
