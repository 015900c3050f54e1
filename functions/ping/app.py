from parley.chat.presence import ping
from parley.ws import websocket_route

handler = websocket_route(ping)
