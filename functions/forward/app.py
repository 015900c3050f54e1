from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.messages import forward_message
    from parley.protocol.frames import ForwardMessage
    from parley.ws import MESSAGES, websocket_route

    return websocket_route(forward_message, model=ForwardMessage, rate_class=MESSAGES)
