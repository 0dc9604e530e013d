"""Releases: the record of published versions (``record``), cutting one (``cut``), the tags that
follow the record (``tags``), comparing two revisions (``diff``, ``review``), the changelog, content
fingerprints and git access (``revisions``).

None of it runs inside a DVC stage except ``record`` and ``changelog``, which the pickle and
benchmark stages use to write the published metadata.
"""
