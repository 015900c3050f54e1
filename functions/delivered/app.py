from parley.chat.receipts import delivered_message
from parley.protocol.frames import MessageRef
from parley.ws import websocket_route

handler = websocket_route(delivered_message, model=MessageRef)
