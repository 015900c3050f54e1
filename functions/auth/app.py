from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.accounts.sessions import reauthenticate
    from parley.protocol.frames import Authenticate
    from parley.ws import websocket_route

    # The one action a connection whose access token expired may still send.
    return websocket_route(reauthenticate, model=Authenticate, renews_token=True)
