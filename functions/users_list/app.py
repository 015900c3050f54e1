from parley.chat.presence import users_list
from parley.ws import websocket_route

handler = websocket_route(users_list)
