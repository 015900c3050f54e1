from parley.chat.presence import unknown_action
from parley.ws import websocket_route

handler = websocket_route(unknown_action)
