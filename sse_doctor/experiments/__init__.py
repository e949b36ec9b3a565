"""The experiments: engines that make a client misbehave on purpose (disconnect, duplicates,
storm, resume) and record what the server did (experiments.observation); the checks judge it
and conclude.experiments makes the result."""
