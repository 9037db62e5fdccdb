"""kombu's Redis transport, publishing through one client per channel.

kombu builds a new `redis.Redis` client for every message it publishes (and every
queue length or purge): the client copies its table of response callbacks each
time, and that was a fifth of a publish's CPU, which a web process pays for each
batch of events it hands to the workers. A client is a thin, thread-safe handle on
the channel's connection pool, so one serves every publish of the channel; it is
made anew when kombu replaces the pool (after a reconnection).

`redis://` and `rediss://` URLs use it in every Picky process (`use_for_redis_urls`,
called as the Celery app is made): kombu finds a transport by the URL's scheme in its
table of aliases. (Celery's broker_transport setting would also apply to URLs of
other schemes, such as the memory:// the tests publish to.)
"""

from contextlib import contextmanager

from kombu import transport
from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared.connection_pool is not pool:
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(redis.Transport):
    Channel = Channel


def use_for_redis_urls():
    """Make `redis://` and `rediss://` broker URLs use this transport in this process."""
    for scheme in ("redis", "rediss"):
        transport.TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        transport._transport_cache.pop(scheme, None)  # resolved before, if ever
