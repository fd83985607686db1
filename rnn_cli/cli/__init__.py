"""The command-line layer: parse options, call one library function, render its
result (data on stdout, everything else on stderr), map errors to exit statuses."""
