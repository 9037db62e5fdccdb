"""/teambox/: the agents' pages (picky/urls.py mounts them, namespace "teambox_pages")."""

from django.urls import path

from . import conversation, inbox

app_name = "teambox_pages"

urlpatterns = [
    path("", inbox.home, name="home"),
    path("<slug:slug>/", inbox.inbox, name="inbox"),
    path("<slug:slug>/c/<int:pk>/", conversation.conversation, name="conversation"),
]
