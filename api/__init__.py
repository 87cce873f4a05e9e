"""The HTTP API (FastAPI app factory, auth dependencies, routes, response models, the error handler) and the
`clausewise` command line. Calls service functions of the other packages; nothing imports api."""
