from parley.chat.joins import leave_chat
from parley.protocol.frames import ChatRef
from parley.ws import websocket_route

handler = websocket_route(leave_chat, model=ChatRef)
