from parley.chat.messages import delete_message
from parley.protocol.frames import MessageRef
from parley.ws import websocket_route

handler = websocket_route(delete_message, model=MessageRef)
