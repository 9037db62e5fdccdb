from django.urls import path

from .views import channel_webhook

urlpatterns = [
    path("channels/<str:token>/webhook", channel_webhook, name="channel_webhook"),
]
