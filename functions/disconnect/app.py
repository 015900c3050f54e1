from parley.chat.presence import close_session
from parley.ws import disconnect_route

handler = disconnect_route(close_session)
