from parley.chat.pins import pin_message
from parley.protocol.frames import MessageRef
from parley.ws import websocket_route

handler = websocket_route(pin_message, model=MessageRef)
