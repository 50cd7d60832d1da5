"""Credit risk decisions: applications, sources, variables, rules, scores, limits, routes."""
