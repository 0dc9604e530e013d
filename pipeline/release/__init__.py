"""Releases: the record of published versions (``record``), cutting one (``cut``), the tags that
follow the record (``tags``), comparing two revisions (``diff``, ``review``), the changelog, content
fingerprints and git access (``revisions``).

None of it runs inside a DVC stage except ``record``, which the pickle and benchmark stages read
to name the release in the published metadata.
"""
