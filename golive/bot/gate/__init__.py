"""Deploy gates: the verdict API that deploy tools ask, its tokens, and ``golive gate``'s wait.

- :mod:`.verdict`: the verdict document (the ``--format json`` shape) and its ETag.
- :mod:`.tokens`: the API's named bearer tokens.
- :mod:`.api`: the ``/api/v1/...`` routes on ``golive serve``'s HTTP port.
- :mod:`.wait`: ``golive gate``: wait for GO, from the API or the database.
- :mod:`.schema`: the JSON Schema of the document, published under ``schema/``.
- :mod:`.github`, :mod:`.protection`: GitHub deployment protection rules (a GitHub App).
- :mod:`.serving`: what ``golive serve`` installs and starts.
"""
