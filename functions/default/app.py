from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.presence import unknown_action
    from parley.ws import websocket_route

    return websocket_route(unknown_action)
