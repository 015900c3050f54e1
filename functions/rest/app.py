from mangum import Mangum

from parley.rest.app import app

handler = Mangum(app, lifespan="off")
