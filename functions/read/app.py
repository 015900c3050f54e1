from parley.chat.receipts import read_message
from parley.protocol.frames import ReadUpTo
from parley.ws import websocket_route

handler = websocket_route(read_message, model=ReadUpTo)
