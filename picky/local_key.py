"""The SECRET_KEY of the embedded mode: generated once, kept in var/ beside its database."""

import os
import secrets
import tempfile

MISSING_SECRET_KEY = (
    "SECRET_KEY is not set: set the SECRET_KEY environment variable to a long random value "
    "(python -c 'import secrets; print(secrets.token_urlsafe(50))') before starting Picky "
    "with DEBUG=false and a DATABASE_URL. Only the embedded mode (no DATABASE_URL) keeps a "
    "key of its own, in var/secret_key."
)


def local_secret_key(path):
    """The key kept in `path`, generated (readable by its owner only) when there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "w") as file:  # mkstemp's file is its owner's only
            file.write(secrets.token_urlsafe(50) + "\n")
        try:
            # Processes starting together keep the first key written, whole.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()
