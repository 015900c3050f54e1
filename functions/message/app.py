from parley.chat.messages import send_message
from parley.protocol.frames import SendMessage
from parley.ws import MESSAGES, websocket_route

handler = websocket_route(send_message, model=SendMessage, rate_class=MESSAGES)
