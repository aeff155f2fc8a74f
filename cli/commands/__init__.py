"""One module per verb. Each parses flags, gets the target, calls one plain function in `cli.ops`,
and renders the result; heavy imports happen inside the command body."""
