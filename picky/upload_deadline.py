"""A longer read deadline for files that signed-in staff upload (a CSV import of tens of
megabytes over office Wi-Fi takes minutes), where every other request stays cut at
PICKY_REQUEST_READ_SECONDS (picky/gunicorn_worker.py), the defence against slow clients.

Picky's gunicorn worker sets `serving_source` to the connection's RequestSource while a
thread serves its request. The middleware sees who sent a multipart POST once its headers
are in, before anything reads its body (CsrfViewMiddleware reads it in process_view,
which runs after every middleware's request phase), and gives a staff member's upload
PICKY_UPLOAD_READ_SECONDS from the connection's opening. Such an upload holds a thread
while it arrives: acceptable because only someone signed in as staff gets that long, so
a stranger cannot hold threads with it. The caps stay: WEB_THREADS threads a process
(gunicorn.conf.py), Django's upload limits and each form's own (the import's 200 MB).
Under another server (runserver) `serving_source` is unset and nothing changes.
"""

from contextvars import ContextVar

from django.conf import settings

serving_source = ContextVar("serving_source", default=None)


class StaffUploadDeadline:
    """After AuthenticationMiddleware. A webhook (a JSON POST, no session) costs it a
    look at the method and content type; only a multipart POST has the session read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = serving_source.get()
        if (
            source is not None
            and request.method == "POST"
            and request.content_type == "multipart/form-data"
            and request.user.is_active
            and request.user.is_staff
        ):
            source.allow(settings.PICKY_UPLOAD_READ_SECONDS)
        return self.get_response(request)
