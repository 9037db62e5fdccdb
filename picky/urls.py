from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from connectors.mail_views import inbound_mail
from connectors.views import ingest

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("hooks/<str:token>", ingest, name="ingest"),
    path("hooks/<str:token>/mail", inbound_mail, name="inbound_mail"),
    path("", include("teambox.urls")),
    path("teambox/", include("teambox.pages.urls")),
    path("admin/actions/http/", include("actions.http_admin")),
    path("admin/", admin.site.urls),
    path("api/", include("picky.api_urls")),
]
