"""Contract-faithful fake marketplace and carrier servers (WSGI apps), shared by tests and `marketd sandbox`."""
