from parley.chat.joins import join_chat
from parley.protocol.frames import ChatRef
from parley.ws import websocket_route

handler = websocket_route(join_chat, model=ChatRef)
