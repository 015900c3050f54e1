from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.presence import ping
    from parley.ws import websocket_route

    # Keepalives are never refused: a busy typist must not lose the connection.
    return websocket_route(ping, rate_class=None)
