from parley.chat.pins import unpin_message
from parley.protocol.frames import MessageRef
from parley.ws import websocket_route

handler = websocket_route(unpin_message, model=MessageRef)
