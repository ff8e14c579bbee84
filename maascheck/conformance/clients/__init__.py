"""The client matrix: real client libraries (Python and Node) consume the endpoint's recorded answers.

`catalog` reads the pinned clients (`pins.json`), `install` builds their environments in the cache,
`adapters/` are the small scripts that drive each client, `replay` serves recorded exchanges back on
loopback, `expect` says what a client should hand the application, `matrix` runs the cells.
"""
