"""The `nlbound` command line: one module per subcommand."""
