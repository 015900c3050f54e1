from parley.chat.presence import ping
from parley.ws import websocket_route

# Keepalives are never refused: a busy typist must not lose the connection.
handler = websocket_route(ping, rate_class=None)
