from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.typing import typing
    from parley.protocol.frames import Typing
    from parley.ws import websocket_route

    return websocket_route(typing, model=Typing)
