from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.presence import close_session
    from parley.ws import disconnect_route

    return disconnect_route(close_session)
