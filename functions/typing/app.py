from parley.chat.typing import typing
from parley.protocol.frames import Typing
from parley.ws import websocket_route

handler = websocket_route(typing, model=Typing)
