from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.presence import users_list
    from parley.ws import websocket_route

    return websocket_route(users_list)
