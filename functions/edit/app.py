from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.messages import edit_message
    from parley.protocol.frames import EditMessage
    from parley.ws import websocket_route

    return websocket_route(edit_message, model=EditMessage)
