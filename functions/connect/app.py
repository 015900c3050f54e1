from parley.chat.presence import open_session
from parley.ws import connect_route

handler = connect_route(open_session)
