"""Built-in marketd plugins, each registered through the `marketd` entry-point group."""
