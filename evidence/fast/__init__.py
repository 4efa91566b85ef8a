"""Speed machinery, behind one switch: worker processes, records spooled to disk, large files read in pieces,
the fast BibTeX splitter, the tagger's pre-filter and the server's bulk threads. With ``ENABLED`` false,
every step takes its plain path, which is the definition of what the fast one must give."""

ENABLED = True
