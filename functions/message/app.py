from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.messages import send_message
    from parley.protocol.frames import SendMessage
    from parley.ws import MESSAGES, websocket_route

    return websocket_route(send_message, model=SendMessage, rate_class=MESSAGES)
