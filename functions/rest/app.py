from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from aws_lambda_powertools.logging import correlation_paths
    from mangum import Mangum

    from parley.observability import observed
    from parley.rest.app import app

    return observed(Mangum(app, lifespan="off"), correlation_paths.API_GATEWAY_HTTP)
