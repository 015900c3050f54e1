from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.joins import join_chat
    from parley.protocol.frames import ChatRef
    from parley.ws import websocket_route

    return websocket_route(join_chat, model=ChatRef)
