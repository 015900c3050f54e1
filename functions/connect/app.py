from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.presence import open_session
    from parley.ws import connect_route

    return connect_route(open_session)
