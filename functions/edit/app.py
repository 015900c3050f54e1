from parley.chat.messages import edit_message
from parley.protocol.frames import EditMessage
from parley.ws import websocket_route

handler = websocket_route(edit_message, model=EditMessage)
