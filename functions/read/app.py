from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.receipts import read_message
    from parley.protocol.frames import ReadUpTo
    from parley.ws import websocket_route

    return websocket_route(read_message, model=ReadUpTo)
