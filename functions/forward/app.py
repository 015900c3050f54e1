from parley.chat.messages import forward_message
from parley.protocol.frames import ForwardMessage
from parley.ws import MESSAGES, websocket_route

handler = websocket_route(forward_message, model=ForwardMessage, rate_class=MESSAGES)
