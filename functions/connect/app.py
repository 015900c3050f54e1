from parley.chat.presence import open_session
from parley.ws import connect_route

handler = connect_route(lambda handshake: open_session(handshake.connection, handshake.pusher))
