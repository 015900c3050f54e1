from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.messages import delete_message
    from parley.protocol.frames import MessageRef
    from parley.ws import websocket_route

    return websocket_route(delete_message, model=MessageRef)
